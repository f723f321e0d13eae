using System.Globalization;
using RobotRuntime.Arm;

namespace RobotRuntime.Telemetry;

/// <summary>Exports a run log as CSV: one row per cycle, durations in milliseconds.</summary>
public static class RunLogCsv
{
    private static readonly string[] StageColumns = ["frame_age_ms", "preprocess_ms", "encode_ms", "plan_ms", "safety_ms", "send_ms", "compute_ms"];

    /// <summary>Writes <paramref name="log"/> to <paramref name="writer"/>.</summary>
    /// <remarks>Setup only (not for the control loop). The value columns are sized to the widest command in the log.</remarks>
    public static void Write(RunLog log, TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(writer);
        int values = 0;
        foreach (var record in log.Records) values = Math.Max(values, record.ValueCount);

        writer.Write("cycle,scheduled_start_ns,start_ns,end_ns,");
        writer.Write(string.Join(',', StageColumns));
        writer.Write(",missed_deadline,consecutive_misses,skipped_ticks,safety,hold_reason,hold_started,clipped,send_status,requested_mode,sent_mode,rate_hz,rate_change");
        for (int i = 0; i < values; i++) writer.Write($",requested_{i}");
        writer.Write(",requested_gripper");
        for (int i = 0; i < values; i++) writer.Write($",sent_{i}");
        writer.Write(",sent_gripper\n");

        var c = CultureInfo.InvariantCulture;
        foreach (var r in log.Records)
        {
            writer.Write(string.Create(c, $"{r.CycleIndex},{r.ScheduledStartNs},{r.StartNs},{r.EndNs},"));
            writer.Write(string.Create(c, $"{Ms(r.FrameAgeNs)},{Ms(r.PreprocessNs)},{Ms(r.EncodeNs)},{Ms(r.PlanNs)},{Ms(r.SafetyNs)},{Ms(r.SendNs)},{Ms(r.ComputeNs)},"));
            string sendStatus = r.SendStatus == CycleRecord.NotSent ? "NotSent" : ((ArmSendStatus)r.SendStatus).ToString();
            string clipped = r.Clipped.ToString().Replace(", ", "|");
            writer.Write(string.Create(c, $"{r.MissedDeadline},{r.ConsecutiveMisses},{r.SkippedTicks},{r.Safety},{r.HoldReason},{r.HoldStarted},{clipped},{sendStatus},{r.RequestedMode},{r.SentMode}"));
            writer.Write(string.Create(c, $",{RunLogSummary.RateOf(r, log.Metadata.RateHz):R},{r.RateChange}"));
            for (int i = 0; i < values; i++)
                writer.Write(i < r.ValueCount ? string.Create(c, $",{r.Requested[i]:R}") : ",");
            writer.Write(string.Create(c, $",{r.RequestedGripper:R}"));
            bool sent = r.SentMode != ArmCommandMode.None;
            for (int i = 0; i < values; i++)
                writer.Write(sent && i < r.ValueCount ? string.Create(c, $",{r.Sent[i]:R}") : ",");
            writer.Write(sent ? string.Create(c, $",{r.SentGripper:R}\n") : ",\n");
        }
    }

    /// <summary>Writes <paramref name="log"/> as CSV to the file <paramref name="path"/> (replacing it).</summary>
    /// <remarks>Setup only.</remarks>
    public static void Write(RunLog log, string path)
    {
        using var writer = new StreamWriter(path, append: false, new System.Text.UTF8Encoding(false));
        Write(log, writer);
    }

    private static string Ms(long ns) => (ns / 1e6).ToString("0.######", CultureInfo.InvariantCulture);
}
