using System.Runtime;
using RobotRuntime.Runtime;

namespace RobotRuntime.Core.Tests.Runtime;

[Collection(GcLatencyModeCollection.Name)]
public class RealTimeSetupTests
{
    /// <summary>Runs <paramref name="action"/> on a thread of its own, so scheduling changes end with it.</summary>
    private static T OnOwnThread<T>(Func<T> action)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try { result = action(); }
            catch (Exception e) { error = e; }
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)));
        if (error is not null) throw error;
        return result;
    }

    [Fact]
    public void FifoRequestIsEitherAppliedAndReadBackOrRefusedWithTheReasonAndTheFix()
    {
        var (report, policy) = OnOwnThread(() =>
        {
            var r = RealTimeSetup.ConfigureCurrentThread(new RealTimeRequest(FifoPriority: 1, Cpus: null, LowLatencyGc: false));
            return (r, LinuxScheduling.GetScheduler(0));
        });
        var outcome = Assert.Single(report.Outcomes);
        Assert.Equal("SCHED_FIFO 1", outcome.Setting);
        if (outcome.Applied)
        {
            Assert.Equal(LinuxScheduling.SchedFifo, policy);
        }
        else
        {
            Assert.Equal(LinuxScheduling.SchedOther, policy);
            Assert.StartsWith("refused: E", outcome.Detail);
        }
        Assert.Contains(outcome.Applied ? "ok" : "not applied", report.ToText());
    }

    [Fact]
    public void AffinityToOneAllowedCpuIsAppliedAndReadBack()
    {
        int cpu = LinuxScheduling.CurrentAffinity(out _)![0];
        var (report, after) = OnOwnThread(() =>
        {
            var r = RealTimeSetup.ConfigureCurrentThread(new RealTimeRequest(null, [cpu], false));
            return (r, LinuxScheduling.CurrentAffinity(out _)!);
        });
        var outcome = Assert.Single(report.Outcomes);
        Assert.True(outcome.Applied, outcome.Detail);
        Assert.Equal([cpu], after);
    }

    [Fact]
    public void AffinityToACpuThatDoesNotExistIsReportedInsteadOfThrown()
    {
        var report = OnOwnThread(() => RealTimeSetup.ConfigureCurrentThread(new RealTimeRequest(null, [1023], false)));
        var outcome = Assert.Single(report.Outcomes);
        Assert.False(outcome.Applied);
        Assert.Contains("EINVAL", outcome.Detail);
        Assert.False(report.AllApplied);
    }

    [Fact]
    public void LowLatencyGcIsReportedWithThePreviousModeToRestore()
    {
        var before = GCSettings.LatencyMode;
        try
        {
            var report = RealTimeSetup.ConfigureCurrentThread(new RealTimeRequest(null, null, LowLatencyGc: true));
            var outcome = Assert.Single(report.Outcomes);
            Assert.Equal(before, report.PreviousGcLatencyMode);
            Assert.Equal(outcome.Applied, GCSettings.LatencyMode == GCLatencyMode.SustainedLowLatency);
            if (!outcome.Applied) Assert.Contains("concurrent", outcome.Detail);
        }
        finally
        {
            GCSettings.LatencyMode = before;
        }
    }

    [Fact]
    public void PermissionRefusalSaysHowToGrantIt()
    {
        string text = RealTimeSetup.DescribeSchedulingError(1);
        Assert.StartsWith("EPERM", text);
        Assert.Contains("CAP_SYS_NICE", text);
        Assert.Contains("/etc/security/limits.conf", text);
        Assert.Contains("rtprio", text);
    }

    [Theory]
    [InlineData(0, null)]
    [InlineData(100, null)]
    [InlineData(null, -1)]
    [InlineData(null, 1024)]
    public void BadRequestThrowsNamingTheInput(int? priority, int? cpu)
    {
        var request = new RealTimeRequest(priority, cpu is { } c ? [c] : null, false);
        var error = Assert.Throws<ArgumentException>(() => RealTimeSetup.ConfigureCurrentThread(request));
        Assert.Contains(priority is not null ? "FifoPriority" : "Cpus", error.Message);
    }

    [Fact]
    public void EmptyCpuListThrows()
    {
        var error = Assert.Throws<ArgumentException>(() => RealTimeSetup.ConfigureCurrentThread(new RealTimeRequest(null, [], false)));
        Assert.Contains("Cpus", error.Message);
    }
}
