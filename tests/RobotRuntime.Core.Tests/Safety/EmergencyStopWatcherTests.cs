using System.Diagnostics;
using RobotRuntime.Safety;
using static RobotRuntime.Core.Tests.Safety.SafetyFilterTests;

namespace RobotRuntime.Core.Tests.Safety;

public class EmergencyStopWatcherTests
{
    [Fact]
    public void StopFileHoldsTheArmAndResetIsRefusedUntilTheFileIsDeleted()
    {
        using var folder = new TemporaryDirectory();
        string stopFile = Path.Combine(folder.Path, "STOP");
        var filter = ArmedFilter();
        using var watcher = new EmergencyStopWatcher(filter, stopFile, TimeSpan.FromHours(1), watchSignal: false);
        Assert.False(watcher.Poll());
        Assert.Equal(SafetyStatus.Pass, filter.Filter(Healthy(Positions(0.2, -0.3)), out _));

        File.WriteAllText(stopFile, "");
        Assert.True(watcher.Poll());
        filter.Filter(Healthy(Positions(0.2, -0.3)), out var result);
        Assert.Equal(HoldReason.EmergencyStop, result.Reason);
        Assert.Contains(stopFile, result.ReasonText);
        var refused = filter.Reset();
        Assert.False(refused.Succeeded);
        Assert.Contains(stopFile, refused.Message);

        File.Delete(stopFile);
        Assert.False(watcher.Poll());
        Assert.True(filter.Reset().Succeeded);
        Assert.Equal(SafetyStatus.Pass, filter.Filter(Healthy(Positions(0.2, -0.3)), out _));
    }

    [Fact]
    public void StopFileIsNoticedByTheTimerWithoutPolling()
    {
        using var folder = new TemporaryDirectory();
        string stopFile = Path.Combine(folder.Path, "STOP");
        var filter = ArmedFilter();
        using var watcher = new EmergencyStopWatcher(filter, stopFile, TimeSpan.FromMilliseconds(10), watchSignal: false);
        File.WriteAllText(stopFile, "");
        var waited = Stopwatch.StartNew();
        SafetyResult result;
        do
        {
            Thread.Sleep(5);
            filter.Filter(Healthy(Positions(0.2, -0.3)), out result);
        } while (result.Status != SafetyStatus.Hold && waited.Elapsed < TimeSpan.FromSeconds(10));
        Assert.Equal(HoldReason.EmergencyStop, result.Reason);
    }

    [Fact]
    public void Sigusr1PressesTheEmergencyStop()
    {
        var filter = ArmedFilter();
        using var watcher = new EmergencyStopWatcher(filter, null, TimeSpan.FromSeconds(1), watchSignal: true);
        using (var kill = Process.Start(new ProcessStartInfo("kill", ["-USR1", Environment.ProcessId.ToString()]))!)
            kill.WaitForExit();
        var waited = Stopwatch.StartNew();
        SafetyResult result;
        do
        {
            Thread.Sleep(5);
            filter.Filter(Healthy(Positions(0.2, -0.3)), out result);
        } while (result.Status != SafetyStatus.Hold && waited.Elapsed < TimeSpan.FromSeconds(10));
        Assert.Equal(HoldReason.EmergencyStop, result.Reason);
        Assert.Contains("SIGUSR1", result.ReasonText);
    }

    [Fact]
    public void WatcherWithNothingToWatchThrows()
    {
        var error = Assert.Throws<ArgumentException>(() => new EmergencyStopWatcher(ArmedFilter(), null, TimeSpan.FromSeconds(1), false));
        Assert.Contains("stop file", error.Message);
    }
}
