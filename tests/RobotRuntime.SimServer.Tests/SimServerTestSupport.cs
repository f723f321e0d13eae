using System.Diagnostics;
using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.SimServer.Tests;

/// <summary>Options, links and waits shared by the sim-server tests.</summary>
internal static class SimServerTestSupport
{
    public static readonly TimeSpan ControlTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Options binding every socket to a free loopback port.</summary>
    public static SimServerOptions Loopback(string task = "reach", double cameraRateHz = 0, int watchdogMilliseconds = 100) => new()
    {
        Task = task,
        StateEndpoint = "tcp://127.0.0.1:*",
        CommandEndpoint = "tcp://127.0.0.1:*",
        ControlEndpoint = "tcp://127.0.0.1:*",
        FrontCameraEndpoint = "tcp://127.0.0.1:*",
        WristCameraEndpoint = "tcp://127.0.0.1:*",
        CameraRateHz = cameraRateHz,
        CameraWidth = 64,
        CameraHeight = 64,
        WatchdogMilliseconds = watchdogMilliseconds,
    };

    /// <summary>Options for a server whose arm is in-process (no arm sockets) and whose cameras are off (no sockets at all).</summary>
    public static SimServerOptions InProcess(string task = "reach", int watchdogMilliseconds = 100) => new()
    {
        Task = task,
        ArmTransport = ArmTransport.InProcess,
        CameraRateHz = 0,
        WatchdogMilliseconds = watchdogMilliseconds,
    };

    /// <summary>The host's in-process link, handshaken (claimed with the server's secret) and with its first state seen.</summary>
    public static InProcessArmLink ConnectInProcess(SimServerHost host, InProcessArmLinkSettings? settings = null)
    {
        var link = host.ConnectInProcess(settings);
        try
        {
            var handshake = link.Handshake(ControlTimeout);
            Assert.True(handshake.Succeeded, handshake.Detail);
            Assert.True(link.Claimed);
            Assert.True(Eventually(() => link.Health.Status == ArmLinkStatus.Up), "no state from the in-process sim-server");
            return link;
        }
        catch
        {
            link.Dispose();
            throw;
        }
    }

    /// <summary>A ZmqArmLink that has handshaken with the server and seen its first state.</summary>
    public static ZmqArmLink Connect(SimServerEndpoints endpoints)
    {
        var link = new ZmqArmLink(endpoints.LinkSettings);
        try
        {
            var handshake = link.Handshake(ControlTimeout);
            Assert.True(handshake.Succeeded, handshake.Detail);
            Assert.True(Eventually(() => link.Health.Status == ArmLinkStatus.Up), "no state from sim-server");
            return link;
        }
        catch
        {
            link.Dispose();
            throw;
        }
    }

    /// <summary>Polls <paramref name="condition"/> every few ms until it holds or <paramref name="bound"/> (default 15 s) passes.</summary>
    public static bool Eventually(Func<bool> condition, TimeSpan? bound = null)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)((bound ?? TimeSpan.FromSeconds(15)).TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (condition())
                return true;
            Thread.Sleep(2);
        }
        return condition();
    }

    /// <summary>
    /// Drives the fingertip towards <paramref name="goal"/> with end-effector deltas at 25 Hz (the
    /// environment's control rate) until <paramref name="done"/> or <paramref name="bound"/>: the
    /// rule of ScriptedController's Reach, computed from the arm's STATE instead of privileged set points.
    /// </summary>
    public static bool DriveTip(ZmqArmLink link, Func<ArmState, (double X, double Y, double Z)> goal, Func<bool> done, TimeSpan bound, double gripper = 0)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(bound.TotalSeconds * Stopwatch.Frequency);
        var next = Stopwatch.GetTimestamp();
        var period = Stopwatch.Frequency / 25;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (done())
                return true;
            if (link.TryGetLatestState(TimeSpan.FromMilliseconds(200), out var state, out _))
            {
                var (x, y, z) = goal(state);
                // Half the error per step: the tip lags its set point, and a full step would overshoot.
                var command = ArmCommand.Create(ArmCommandMode.EndEffectorDelta,
                    [Step(x - state.EndEffectorX), Step(y - state.EndEffectorY), Step(z - state.EndEffectorZ), 0, 0, 0], gripper);
                link.Send(command, out _);
            }
            next += period;
            var wait = next - Stopwatch.GetTimestamp();
            if (wait > 0)
                Thread.Sleep(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency));
        }
        return done();

        static double Step(double metres) => Math.Clamp(0.5 * metres, -0.03, 0.03);
    }
}
