using System.Xml.Linq;
using RobotRuntime.Arm;
using RobotRuntime.Runtime;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;
using RobotRuntime.Testing;

namespace RobotRuntime.Core.Tests.Telemetry;

public class RunLogTests
{
    private static readonly RunLogMetadata Metadata = new(100, "unit test run, scripted controller");

    /// <summary>Record i: compute time (i + 1) ms; every 10th misses its deadline; cycles 20–24 hold for a stale frame; cycle 30 holds for NaN.</summary>
    private static CycleRecord Record(int i)
    {
        var record = new CycleRecord
        {
            CycleIndex = i,
            ScheduledStartNs = 1_000_000_000L + i * 10_000_000L,
            StartNs = 1_000_000_000L + i * 10_000_000L + 1000,
            FrameAgeNs = 5_000_000 + i,
            PreprocessNs = 100_000 + i,
            EncodeNs = 2_000_000 + i,
            PlanNs = 3_000_000 + i,
            SafetyNs = 10_000 + i,
            SendNs = 50_000 + i,
            MissedDeadline = (byte)(i % 10 == 9 ? 1 : 0),
            ConsecutiveMisses = i % 10 == 9 ? 1 : 0,
            SkippedTicks = i % 10 == 9 ? 2 : 0,
            Safety = SafetyStatus.Pass,
            SendStatus = (byte)ArmSendStatus.Sent,
        };
        record.EndNs = record.StartNs + (i + 1) * 1_000_000L;
        record.SetRequested(ArmCommand.JointPositions([0.1 * i, -0.2, 0.3], 0.5));
        record.SetSent(ArmCommand.JointPositions([0.1 * i, -0.2, 0.3], 0.5));
        if (i is >= 20 and < 25)
        {
            record.Safety = SafetyStatus.Hold;
            record.HoldReason = HoldReason.StaleCameraFrame;
            record.HoldStarted = (byte)(i == 20 ? 1 : 0);
            record.SetSent(default);
            record.SendStatus = CycleRecord.NotSent;
        }
        if (i == 30)
        {
            record.Safety = SafetyStatus.Hold;
            record.HoldReason = HoldReason.NonFiniteCommand;
            record.HoldStarted = 1;
        }
        if (i == 40)
        {
            record.Safety = SafetyStatus.Clipped;
            record.Clipped = ClipKinds.JointPosition | ClipKinds.ChangePerCycle;
        }
        return record;
    }

    private static RunLog WriteLog(string path, int count)
    {
        using (var writer = RunLogWriter.Create(path, Metadata))
        {
            for (int i = 0; i < count; i++) Assert.True(writer.TryAppend(Record(i)));
        }
        return RunLog.Read(path);
    }

    [Fact]
    public void RecordsReadBackEqualTheRecordsWritten()
    {
        using var folder = new TemporaryDirectory();
        var log = WriteLog(Path.Combine(folder.Path, "run.rrlog"), 50);
        Assert.Equal(50, log.Records.Count);
        Assert.Equal(0, log.TrailingBytes);
        Assert.Equal(100, log.Metadata.RateHz);
        Assert.Equal(Metadata.Description, log.Metadata.Description);
        for (int i = 0; i < 50; i++)
        {
            var expected = Record(i);
            var actual = log.Records[i];
            Assert.Equal(expected.CycleIndex, actual.CycleIndex);
            Assert.Equal(expected.EndNs, actual.EndNs);
            Assert.Equal(expected.PlanNs, actual.PlanNs);
            Assert.Equal(expected.Requested[0], actual.Requested[0]);
            Assert.Equal(expected.Sent[2], actual.Sent[2]);
            Assert.Equal(expected.SentMode, actual.SentMode);
            Assert.Equal(expected.HoldReason, actual.HoldReason);
            Assert.Equal(expected.Clipped, actual.Clipped);
            Assert.Equal(expected.MissedDeadline, actual.MissedDeadline);
            Assert.Equal(3, actual.ValueCount);
        }
    }

    [Fact]
    public void LogIsCompleteWhileTheWriterIsStillOpenAsAfterAKill()
    {
        using var folder = new TemporaryDirectory();
        string path = Path.Combine(folder.Path, "run.rrlog");
        using var writer = RunLogWriter.Create(path, Metadata);
        for (int i = 0; i < 37; i++) writer.TryAppend(Record(i));
        // No Dispose, no Flush: a process killed here leaves exactly what the kernel has.
        var log = RunLog.Read(path);
        Assert.Equal(37, log.Records.Count);
        Assert.Equal(36, log.Records[^1].CycleIndex);
    }

    [Fact]
    public void RecordCutMidwayAtTheEndIsIgnored()
    {
        using var folder = new TemporaryDirectory();
        string path = Path.Combine(folder.Path, "run.rrlog");
        var writer = RunLogWriter.Create(path, Metadata);
        for (int i = 0; i < 12; i++) writer.TryAppend(Record(i));
        // Simulate a kill in the middle of the 13th write: the handle goes away with no finalisation
        // and only part of the record reached the file.
        writer.Dispose();
        int half = RunLogFormat.RecordSize / 2;
        using (var stream = new FileStream(path, FileMode.Append)) stream.Write(new byte[half]);

        var log = RunLog.Read(path);
        Assert.Equal(12, log.Records.Count);
        Assert.Equal(half, log.TrailingBytes);
        Assert.Equal(11, log.Records[^1].CycleIndex);
    }

    [Fact]
    public void AppendingARecordAllocatesNothing()
    {
        using var folder = new TemporaryDirectory();
        using var writer = RunLogWriter.Create(Path.Combine(folder.Path, "run.rrlog"), Metadata);
        var record = Record(3);
        writer.TryAppend(record);
        Assert.Equal(0, ThreadAllocations.During(() =>
        {
            for (int i = 0; i < 500; i++)
            {
                record.CycleIndex = i;
                writer.TryAppend(record);
            }
        }));
        Assert.Equal(501, writer.RecordsWritten);
        Assert.Equal(0, writer.WriteFailures);
    }

    [Fact]
    public void AppendAfterDisposeReturnsFalseInsteadOfThrowing()
    {
        using var folder = new TemporaryDirectory();
        var writer = RunLogWriter.Create(Path.Combine(folder.Path, "run.rrlog"), Metadata);
        writer.Dispose();
        Assert.False(writer.TryAppend(Record(0)));
        Assert.Equal(1, writer.WriteFailures);
    }

    [Fact]
    public void CreatingOverAnExistingFileThrowsNamingIt()
    {
        using var folder = new TemporaryDirectory();
        string path = Path.Combine(folder.Path, "run.rrlog");
        File.WriteAllText(path, "precious");
        var error = Assert.Throws<IOException>(() => RunLogWriter.Create(path, Metadata));
        Assert.Contains(path, error.Message);
        Assert.Equal("precious", File.ReadAllText(path));
    }

    [Fact]
    public void ReadingAFileThatIsNotARunLogThrowsNamingIt()
    {
        using var folder = new TemporaryDirectory();
        string path = Path.Combine(folder.Path, "notes.txt");
        File.WriteAllText(path, "these are not the records you are looking for");
        var error = Assert.Throws<InvalidDataException>(() => RunLog.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("RRRUNLOG", error.Message);
    }

    [Fact]
    public void HeaderDescribesEveryRecordField()
    {
        byte[] header = RunLogFormat.BuildHeader(Metadata);
        string text = System.Text.Encoding.UTF8.GetString(header);
        Assert.Contains("rate_hz=100", text);
        Assert.Contains("field CycleIndex i64 0 8", text);
        Assert.Contains("field Requested f64x16", text);
        Assert.Contains("field HoldReason u8", text);
        Assert.Equal(0, header.Length % 512);
    }

    [Fact]
    public void SummaryGivesStagePercentilesMissesClipsAndHoldsByReason()
    {
        using var folder = new TemporaryDirectory();
        var summary = RunLogSummary.Compute(WriteLog(Path.Combine(folder.Path, "run.rrlog"), 100));
        var compute = summary[CycleStage.Compute];
        // Compute times are 1..100 ms: nearest-rank percentiles are the ranks themselves.
        Assert.Equal(50, compute.P50, 9);
        Assert.Equal(95, compute.P95, 9);
        Assert.Equal(99, compute.P99, 9);
        Assert.Equal(100, compute.Max, 9);
        Assert.Equal(3.0 + 99e-6, summary[CycleStage.Plan].Max, 9);
        Assert.Equal(10, summary.MissedDeadlines);
        Assert.Equal(20, summary.SkippedTicks);
        Assert.Equal(1, summary.ClippedCycles);
        Assert.Equal(1, summary.HoldsByReason[HoldReason.StaleCameraFrame]);
        Assert.Equal(5, summary.HeldCyclesByReason[HoldReason.StaleCameraFrame]);
        Assert.Equal(1, summary.HoldsByReason[HoldReason.NonFiniteCommand]);
        string text = summary.ToText();
        Assert.Contains("missed deadlines: 10", text);
        Assert.Contains("hold StaleCameraFrame: 1 time(s), 5 cycle(s)", text);
    }

    [Fact]
    public void CsvHasOneRowPerCycleWithRequestedAndSentValues()
    {
        using var folder = new TemporaryDirectory();
        var log = WriteLog(Path.Combine(folder.Path, "run.rrlog"), 25);
        var csv = new StringWriter();
        RunLogCsv.Write(log, csv);
        string[] lines = csv.ToString().TrimEnd('\n').Split('\n');
        Assert.Equal(26, lines.Length);
        string[] columns = lines[0].Split(',');
        Assert.Contains("requested_2", columns);
        Assert.Contains("sent_gripper", columns);
        Assert.All(lines, line => Assert.Equal(columns.Length, line.Split(',').Length));
        string[] row = lines[21].Split(',');
        Assert.Equal("20", row[0]);
        Assert.Equal("StaleCameraFrame", row[Array.IndexOf(columns, "hold_reason")]);
        Assert.Equal("NotSent", row[Array.IndexOf(columns, "send_status")]);
        Assert.Equal("", row[Array.IndexOf(columns, "sent_0")]);
        // Record 1 planned for 3,000,001 ns.
        Assert.Equal("3.000001", lines[2].Split(',')[Array.IndexOf(columns, "plan_ms")]);
    }

    [Fact]
    public void EmptyLogGivesAnEmptySummary()
    {
        using var folder = new TemporaryDirectory();
        var log = WriteLog(Path.Combine(folder.Path, "empty.rrlog"), 0);
        Assert.Empty(log.Records);
        var summary = RunLogSummary.Compute(log);
        Assert.Equal(0, summary.Cycles);
        Assert.Equal(0, summary[CycleStage.Compute].Max);
        Assert.Contains("holds: none", summary.ToText());
    }

    [Fact]
    public void HeaderPutsTheRateFieldsInWhatWasThePaddingOfAVersion1Record()
    {
        // Version 1's record ended with SendStatus at byte 368 and padding to 376: the rate fields fill
        // that padding, so every older field keeps its offset and a record its size.
        Assert.Equal(376, RunLogFormat.RecordSize);
        Assert.EndsWith("field SendStatus u8 368 1\n", RunLogFormat.FieldTableWithoutRates);
        Assert.Equal(RunLogFormat.FieldTableWithoutRates + "field RateChange u8 369 1\nfield RateMillihertz i32 372 4\n", RunLogFormat.FieldTable);
    }

    [Fact]
    public void AVersion1LogIsReadWithEveryCycleAtTheHeadersRate()
    {
        using var folder = new TemporaryDirectory();
        string path = Path.Combine(folder.Path, "v1.rrlog");
        // A version 1 header (its field table has no rate fields) and records whose padding holds junk.
        string text = $"rate_hz=50\ndescription=an older run\n{RunLogFormat.FieldTableWithoutRates}";
        byte[] textBytes = System.Text.Encoding.UTF8.GetBytes(text);
        var header = new byte[(28 + textBytes.Length + 511) / 512 * 512];
        "RRRUNLOG"u8.CopyTo(header);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), 1);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), (uint)header.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), (uint)RunLogFormat.RecordSize);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(20), 0x01020304);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(24), (uint)textBytes.Length);
        textBytes.CopyTo(header, 28);
        var records = Enumerable.Range(0, 10).Select(i =>
        {
            var r = Record(i);
            r.RateChange = RateChange.SteppedUp; // junk in the padding
            r.RateMillihertz = 12345;
            return r;
        }).ToArray();
        File.WriteAllBytes(path, [.. header, .. System.Runtime.InteropServices.MemoryMarshal.AsBytes(records.AsSpan())]);

        var log = RunLog.Read(path);
        Assert.Equal(10, log.Records.Count);
        Assert.Equal(50, log.Metadata.RateHz);
        Assert.All(log.Records, r => Assert.Equal((RateChange.None, 0), (r.RateChange, r.RateMillihertz)));
        Assert.Equal(Record(7).PlanNs, log.Records[7].PlanNs);
        var summary = RunLogSummary.Compute(log);
        Assert.Empty(summary.RateChanges);
        Assert.Equal([(50.0, 10)], summary.TimeAtRates.Select(t => (t.RateHz, t.Cycles)));
        Assert.DoesNotContain("rate", summary.ToText().Replace("rate_hz", ""));
    }

    [Fact]
    public void AFixedRateRunsSummaryHasNoRateLines()
    {
        using var folder = new TemporaryDirectory();
        var summary = RunLogSummary.Compute(WriteLog(Path.Combine(folder.Path, "run.rrlog"), 30));
        Assert.Empty(summary.RateChanges);
        Assert.Empty(summary.RateLines());
        Assert.DoesNotContain("rate changes", summary.ToText());
        Assert.DoesNotContain("time at", summary.ToText());
    }

    [Fact]
    public void CsvGivesEachCyclesRateAndMarksTheChanges()
    {
        using var folder = new TemporaryDirectory();
        string path = Path.Combine(folder.Path, "run.rrlog");
        using (var writer = RunLogWriter.Create(path, new RunLogMetadata(25, "degraded run")))
        {
            for (var i = 0; i < 6; i++)
            {
                var r = Record(i);
                r.RateMillihertz = i < 3 ? 25_000 : 12_500;
                r.RateChange = i == 3 ? RateChange.SteppedDown : RateChange.None;
                writer.TryAppend(r);
            }
        }
        var csv = new StringWriter();
        RunLogCsv.Write(RunLog.Read(path), csv);
        string[] lines = csv.ToString().TrimEnd('\n').Split('\n');
        string[] columns = lines[0].Split(',');
        Assert.Equal(["25", "25", "25", "12.5", "12.5", "12.5"], lines.Skip(1).Select(l => l.Split(',')[Array.IndexOf(columns, "rate_hz")]));
        Assert.Equal(["None", "None", "None", "SteppedDown", "None", "None"], lines.Skip(1).Select(l => l.Split(',')[Array.IndexOf(columns, "rate_change")]));
    }

    [Fact]
    public void LogCutInsideItsHeaderIsRejectedNamingTheFile()
    {
        using var folder = new TemporaryDirectory();
        string path = Path.Combine(folder.Path, "cut.rrlog");
        File.WriteAllBytes(path, RunLogFormat.BuildHeader(Metadata)[..100]);
        var error = Assert.Throws<InvalidDataException>(() => RunLog.Read(path));
        Assert.Contains(path, error.Message);
    }
}
