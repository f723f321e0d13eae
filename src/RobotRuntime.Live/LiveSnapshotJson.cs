using System.Buffers;
using System.Text.Json;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;
using RobotRuntime.Timing;

namespace RobotRuntime.Live;

/// <summary>Formats what the page shows — the board's newest cycle and counters — as one JSON object.</summary>
internal static class LiveSnapshotJson
{
    private const double NsPerMs = 1e6;

    /// <summary>The JSON for the board's state at <paramref name="nowNs"/> (monotonic ns).</summary>
    public static byte[] Format(LiveStatusBoard board, LivePageOptions options, long nowNs)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("title", options.Title);
            json.WriteString("policy", board.PolicyName);
            json.WriteNumber("rateHz", board.RateHz);
            json.WriteNumber("frameRateHz", options.FrameRateHz);
            json.WriteStartArray("cameras");
            foreach (var camera in board.CameraNames)
                json.WriteStringValue(camera);
            json.WriteEndArray();
            json.WriteStartObject("controls");
            json.WriteBoolean("estop", options.EmergencyStop is not null);
            json.WriteBoolean("reset", options.Reset is not null);
            json.WriteEndObject();
            json.WriteNumber("cyclesPublished", board.CyclesPublished);
            json.WriteNumber("cyclesOffered", board.CyclesOffered);
            json.WriteNumber("missedDeadlines", board.MissedDeadlines);
            json.WriteNumber("holdsStarted", board.HoldsStarted);

            var hasCycle = board.TryReadCycle(out var snapshot);
            json.WriteBoolean("hasCycle", hasCycle);
            if (hasCycle)
            {
                var record = snapshot.Record;
                json.WriteNumber("cycle", record.CycleIndex);
                // The rate the newest cycle ran at: below rateHz while the loop is degraded (its degrade section).
                json.WriteNumber("currentRateHz", RunLogSummary.RateOf(record, board.RateHz));
                json.WriteNumber("sinceCycleMs", Math.Round(Math.Max(0, nowNs - snapshot.PublishedNs) / NsPerMs, 1));
                json.WriteNumber("consecutiveMisses", record.ConsecutiveMisses);
                json.WriteNumber("skippedTicks", record.SkippedTicks);
                json.WriteStartObject("stagesMs");
                Stage(json, "frameAge", record.FrameAgeNs);
                Stage(json, "preprocess", record.PreprocessNs);
                Stage(json, "encode", record.EncodeNs);
                Stage(json, "plan", record.PlanNs);
                Stage(json, "safety", record.SafetyNs);
                Stage(json, "send", record.SendNs);
                Stage(json, "compute", record.ComputeNs);
                json.WriteEndObject();
                json.WriteString("safety", record.Safety.ToString());
                json.WriteString("clipped", record.Clipped == ClipKinds.None ? "" : record.Clipped.ToString());
                json.WriteBoolean("holding", snapshot.Holding);
                json.WriteString("holdReason", snapshot.Holding ? snapshot.HoldReason.ToString() : "");
                json.WriteString("holdText", snapshot.Holding ? snapshot.HoldText ?? "" : "");
            }
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The JSON for the board's state now.</summary>
    public static byte[] Format(LiveStatusBoard board, LivePageOptions options) => Format(board, options, MonotonicClock.NowNanoseconds);

    private static void Stage(Utf8JsonWriter json, string name, long ns) => json.WriteNumber(name, Math.Round(ns / NsPerMs, 3));
}
