using RobotRuntime.Testing;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using RobotRuntime.Arm;
using RobotRuntime.Native;
using static RobotRuntime.SimServer.Tests.SimServerTestSupport;

namespace RobotRuntime.SimServer.Tests;

/// <summary>Scripted controllers solve the tasks through sim-server over ZeroMQ.</summary>
public sealed partial class SimServerTaskTests
{
    [GeneratedRegex(@"state=(\S+) command=(\S+) control=(\S+)")]
    private static partial Regex ReadyLine();

    [GeneratedRegex(@"goal \(([-0-9.]+), ([-0-9.]+), ([-0-9.]+)\) m")]
    private static partial Regex GoalLine();

    /// <summary>
    /// The hardware-in-the-loop shape: rr sim-server as its own process, the runtime's ZmqArmLink in
    /// this one. The goal comes from the server's episode log line (privileged, as a test oracle);
    /// success is the server's own task evaluation, read from its log.
    /// </summary>
    [Fact]
    public void ScriptedControllerReachesTheTargetThroughRrSimServerInAnotherProcess()
    {
        var keyFile = Path.Combine(Path.GetTempPath(), "rr-sim-key-" + Guid.NewGuid().ToString("N"));
        var secret = Transport.Firmware.ArmKeyFile.Create(keyFile);
        using var removeKey = new DeleteOnDispose(keyFile);
        using var server = ChildServer.Start("sim-server", "--task", "reach", "--seed", "3", "--camera-rate", "10", "--camera-size", "64",
            "--state", "tcp://127.0.0.1:*", "--command", "tcp://127.0.0.1:*", "--control", "tcp://127.0.0.1:*",
            "--camera-front", "tcp://127.0.0.1:*", "--camera-wrist", "tcp://127.0.0.1:*", "--key", keyFile);
        var ready = ReadyLine().Match(server.WaitForOutput(l => l.Contains("ready"), TimeSpan.FromSeconds(20)));
        var goalMatch = GoalLine().Match(server.WaitForError(l => l.Contains("episode:"), TimeSpan.FromSeconds(5)));
        (double X, double Y, double Z) goal = (Parse(goalMatch.Groups[1]), Parse(goalMatch.Groups[2]), Parse(goalMatch.Groups[3]));

        using var link = new Transport.Firmware.ZmqArmLink(new Transport.Firmware.ZmqArmLinkSettings
        {
            StateAddress = ready.Groups[1].Value, CommandAddress = ready.Groups[2].Value, ControlAddress = ready.Groups[3].Value,
            Secret = secret,
        });
        Assert.True(link.Handshake(ControlTimeout).Succeeded);
        Assert.True(Eventually(() => link.Health.Status == ArmLinkStatus.Up), "no state from the sim-server process");
        var enable = link.Request(ArmControlRequest.Enable, ControlTimeout);
        Assert.True(enable.Succeeded, enable.Detail);

        var solved = DriveTip(link, _ => goal, () => server.ErrorContains("task reach: success"), TimeSpan.FromSeconds(15));
        Assert.True(solved, $"no success reported; server log:\n{server.ErrorText}");
        Assert.True(link.TryGetLatestState(TimeSpan.MaxValue, out var state, out _));
        var distance = Math.Sqrt(Math.Pow(state.EndEffectorX - goal.X, 2) + Math.Pow(state.EndEffectorY - goal.Y, 2) + Math.Pow(state.EndEffectorZ - goal.Z, 2));
        Assert.True(distance < 0.05, $"the arm's own state puts the tip {distance:0.000} m from the goal");

        // SIGTERM stops it cleanly: exit code 0 and its closing summary.
        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(10)));
        Assert.True(server.ErrorContains("stopped:"), server.ErrorText);
    }

    [Fact]
    public void ScriptedControllerReachesTheTargetThroughZmqArmLinkInProcess()
    {
        using var host = SimServerHost.Start(Loopback() with { Seed = 5, WatchdogMilliseconds = 500 });
        using var link = Connect(host.Endpoints);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        var start = host.Server.Snapshot;
        Assert.False(start.IsSuccess);
        Assert.True(DriveTip(link, _ => host.Server.Snapshot.Goal, () => host.Server.Snapshot.IsSuccess, TimeSpan.FromSeconds(15)),
            $"goal distance stayed {host.Server.Snapshot.GoalDistance:0.000} m");
        var end = host.Server.Snapshot;
        Assert.True(end.Reward > start.Reward, $"reward {end.Reward} at success is not above {start.Reward} at the start");
        Assert.True(end.GoalDistance < 0.03);
    }

    [Fact]
    public void ScriptedControllerPushesThePuckIntoTheGoalThroughZmqArmLink()
    {
        using var host = SimServerHost.Start(Loopback("push") with { Seed = 2, WatchdogMilliseconds = 500 });
        using var link = Connect(host.Endpoints);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        var start = host.Server.Snapshot;
        Assert.False(start.IsSuccess);
        var solved = DriveTip(link, state => PushWaypoint(host.Server.Snapshot, state), () => host.Server.Snapshot.IsSuccess,
            TimeSpan.FromSeconds(25), gripper: 1);
        var end = host.Server.Snapshot;
        Assert.True(solved, $"puck stayed {end.GoalDistance:0.000} m from the goal");
        // Success came from pushing: the puck travelled most of the way it started from the goal.
        var travelled = Math.Sqrt(Math.Pow(end.Object.X - start.Object.X, 2) + Math.Pow(end.Object.Y - start.Object.Y, 2));
        Assert.True(travelled > start.GoalDistance - PushSuccessRadius - 0.01,
            $"puck moved {travelled:0.000} m; it started {start.GoalDistance:0.000} m from the goal");
        Assert.True(end.SimulationTime > start.SimulationTime);
    }

    /// <summary>ScriptedController's push rule, with the fingertip measured from the arm's STATE and the
    /// puck and goal from the server's privileged snapshot.</summary>
    private static (double X, double Y, double Z) PushWaypoint(SimTaskSnapshot task, ArmState state)
    {
        const double PushHeight = 0.015, TravelHeight = 0.07;
        var (puckX, puckY, _) = task.Object;
        var (goalX, goalY, _) = task.Goal;
        var (tipX, tipY, tipZ) = (state.EndEffectorX, state.EndEffectorY, state.EndEffectorZ);
        var length = Math.Max(Math.Sqrt((goalX - puckX) * (goalX - puckX) + (goalY - puckY) * (goalY - puckY)), 1e-6);
        var (dirX, dirY) = ((goalX - puckX) / length, (goalY - puckY) / length);
        var along = (tipX - puckX) * dirX + (tipY - puckY) * dirY;
        var across = Math.Abs(-(tipX - puckX) * dirY + (tipY - puckY) * dirX);
        var (behindX, behindY) = (puckX - 0.06 * dirX, puckY - 0.06 * dirY);
        if (tipZ < 0.035 && along < -0.03 && across < 0.012)
            return (puckX + 0.04 * dirX, puckY + 0.04 * dirY, PushHeight);
        if (Math.Sqrt((tipX - behindX) * (tipX - behindX) + (tipY - behindY) * (tipY - behindY)) < 0.012)
            return (behindX, behindY, PushHeight);
        var nearPuck = Math.Sqrt((tipX - puckX) * (tipX - puckX) + (tipY - puckY) * (tipY - puckY)) < 0.08;
        if (tipZ < TravelHeight - 0.02 && nearPuck)
            return (tipX, tipY, TravelHeight);
        return (behindX, behindY, TravelHeight);
    }

    private const double PushSuccessRadius = Sim.Tabletop.PushTask.SuccessRadius;

    private static double Parse(Group group) => double.Parse(group.Value, CultureInfo.InvariantCulture);

    /// <summary>rr running as a child process, its stdout and stderr collected line by line; killed on dispose.</summary>
    /// <summary>rr sim-server as a child process (through the tests' bounded <see cref="ChildProcess"/>).</summary>
    private sealed class ChildServer : IDisposable
    {
        private readonly ChildProcess _process;

        private ChildServer(ChildProcess process) => _process = process;

        public static ChildServer Start(params string[] arguments)
        {
            var repository = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)
                ?? throw new InvalidOperationException($"no RobotRuntime.sln above {AppContext.BaseDirectory}");
            var configuration = typeof(ChildServer).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyConfigurationAttribute), false)
                .OfType<System.Reflection.AssemblyConfigurationAttribute>().FirstOrDefault()?.Configuration ?? "Debug";
            var rr = Path.Combine(repository, "src", "RobotRuntime.Cli", "bin", configuration, "net10.0", "rr.dll");
            Assert.True(File.Exists(rr), $"rr.dll is not built at {rr}");
            return new ChildServer(ChildProcess.Start("dotnet", ["exec", rr, .. arguments], label: "rr sim-server"));
        }

        public string ErrorText => _process.Error;

        public bool ErrorContains(string text) => _process.Error.Contains(text, StringComparison.Ordinal);

        public string WaitForOutput(Func<string, bool> match, TimeSpan bound) => _process.WaitForLine(match, bound, onError: false);

        public string WaitForError(Func<string, bool> match, TimeSpan bound) => _process.WaitForLine(match, bound, onError: true);

        /// <summary>Sends SIGTERM and waits (bounded) for the exit; returns the exit code.</summary>
        public int Terminate(TimeSpan bound)
        {
            if (!_process.HasExited)
                _process.Signal("TERM");
            return _process.WaitForExit(bound);
        }

        public void Dispose() => _process.Dispose();
    }

    private sealed class DeleteOnDispose(string path) : IDisposable
    {
        public void Dispose() => File.Delete(path);
    }
}
