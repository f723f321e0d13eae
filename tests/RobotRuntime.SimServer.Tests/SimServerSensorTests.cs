using System.Diagnostics;
using RobotRuntime.Arm;
using RobotRuntime.Cameras;
using RobotRuntime.Timing;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Zmq;
using RobotRuntime.Vision.Cameras;
using static RobotRuntime.SimServer.Tests.SimServerTestSupport;

namespace RobotRuntime.SimServer.Tests;

/// <summary>Camera streams and the injected faults: delays, jitter, frame drops.</summary>
public sealed class SimServerSensorTests
{
    [Fact]
    public void CameraFramesArriveThroughZmqCameraSourceAndChangeWhenTheArmMoves()
    {
        using var host = SimServerHost.Start(Loopback(cameraRateHz: 30, watchdogMilliseconds: 5000));
        using var link = Connect(host.Endpoints);
        using var front = new ZmqCameraSource("front", host.Endpoints.Cameras["front"], 64, 64);
        using var wrist = new ZmqCameraSource("wrist", host.Endpoints.Cameras["wrist"], 64, 64);
        front.Start();
        wrist.Start();
        var frontBefore = new CameraFrame(64, 64);
        var wristBefore = new CameraFrame(64, 64);
        Assert.Equal(CameraReadStatus.Ok, front.Read(frontBefore, TimeSpan.FromSeconds(10)));
        Assert.Equal(CameraReadStatus.Ok, wrist.Read(wristBefore, TimeSpan.FromSeconds(10)));
        Assert.True(frontBefore.Pixels.Any(p => p != 0), "the front frame is black");

        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        Assert.True(link.TryGetLatestState(TimeSpan.MaxValue, out var state, out _));
        double[] turned = [state.Positions[0] + 0.9, state.Positions[1], state.Positions[2], state.Positions[3]];
        link.Send(ArmCommand.JointPositions(turned, 0), out _);
        Assert.True(Eventually(() => link.TryGetLatestState(TimeSpan.MaxValue, out state, out _) && Math.Abs(state.Positions[0] - turned[0]) < 0.02));
        Thread.Sleep(100); // a frame rendered after the move

        var frontAfter = new CameraFrame(64, 64);
        var wristAfter = new CameraFrame(64, 64);
        Assert.Equal(CameraReadStatus.Ok, front.Read(frontAfter, TimeSpan.FromSeconds(5)));
        Assert.Equal(CameraReadStatus.Ok, wrist.Read(wristAfter, TimeSpan.FromSeconds(5)));
        Assert.True(frontAfter.Sequence > frontBefore.Sequence);
        Assert.True(MeanAbsoluteDifference(frontBefore, frontAfter) > 0.5, "the front camera did not see the arm turn");
        Assert.True(MeanAbsoluteDifference(wristBefore, wristAfter) > 2, "the wrist camera did not see the scene turn");
    }

    [Fact]
    public void InProcessCamerasCarryTheSameRenderedFramesAsTheStreamWithoutASocket()
    {
        // The arm is not enabled, so the scene is (nearly) still and every render of a camera is
        // (nearly) the same image: the in-process front camera must match the streamed front camera,
        // not the wrist. Tolerance: a mean absolute difference under 0.5 grey levels (settling moves
        // a few pixels by one level between renders); front vs wrist differ by far more than 2.
        using var host = SimServerHost.Start(Loopback(cameraRateHz: 30, watchdogMilliseconds: 5000));
        Assert.Equal(["front", "wrist"], host.Server.LocalCameras.Keys.Order());
        var local = host.Server.LocalCameras["front"];
        local.Start();
        using var front = new ZmqCameraSource("front", host.Endpoints.Cameras["front"], 64, 64);
        using var wrist = new ZmqCameraSource("wrist", host.Endpoints.Cameras["wrist"], 64, 64);
        front.Start();
        wrist.Start();
        var fromLocal = new CameraFrame(64, 64);
        var fromFront = new CameraFrame(64, 64);
        var fromWrist = new CameraFrame(64, 64);
        Assert.Equal(CameraReadStatus.Ok, local.Read(fromLocal, TimeSpan.FromSeconds(10)));
        Assert.Equal(CameraReadStatus.Ok, front.Read(fromFront, TimeSpan.FromSeconds(10)));
        Assert.Equal(CameraReadStatus.Ok, wrist.Read(fromWrist, TimeSpan.FromSeconds(10)));
        Assert.True(fromLocal.Pixels.Any(p => p != 0), "the in-process front frame is black");
        Assert.True(MeanAbsoluteDifference(fromFront, fromLocal) < 0.5, "the in-process front frame differs from the streamed one");
        Assert.True(MeanAbsoluteDifference(fromWrist, fromLocal) > 2, "the in-process front frame looks like the wrist camera");
        // Frames keep coming, each newer than the last, stamped with the render time.
        var previous = fromLocal.CaptureTimestampNs;
        Assert.Equal(CameraReadStatus.Ok, local.Read(fromLocal, TimeSpan.FromSeconds(5)));
        Assert.True(fromLocal.CaptureTimestampNs > previous);
        Assert.True(fromLocal.CaptureTimestampNs <= MonotonicClock.NowNanoseconds);
    }

    [Fact]
    public void InProcessCamerasHonourTheInjectedSensorDelay()
    {
        using var host = SimServerHost.Start(Loopback(cameraRateHz: 30, watchdogMilliseconds: 5000) with { SensorDelay = TimeSpan.FromMilliseconds(80) });
        var local = host.Server.LocalCameras["wrist"];
        local.Start();
        var frame = new CameraFrame(64, 64);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(CameraReadStatus.Ok, local.Read(frame, TimeSpan.FromSeconds(10)));
            var ageMs = (MonotonicClock.NowNanoseconds - frame.CaptureTimestampNs) / 1e6;
            Assert.True(ageMs >= 80, $"frame {i} arrived {ageMs:0.0} ms after it was rendered, with an 80 ms sensor delay");
        }
    }

    [Fact]
    public void InjectedSensorDelayShowsInTheStateAge()
    {
        // Both processes' monotonic clocks are the same CLOCK_MONOTONIC, so now − the state's own
        // timestamp is the state's true age, transport included, plus however late this thread woke to
        // read it. Load only ever adds to an age, so the youngest of each run's 60 states is the one
        // nearest the delay itself; medians of two runs at different times differ by the load as well.
        var prompt = YoungestStateAgeMilliseconds(TimeSpan.Zero);
        var delayed = YoungestStateAgeMilliseconds(TimeSpan.FromMilliseconds(40));
        // 40 ms − the 4 ms jitter (uniform) is the shortest delay the server can give a state.
        Assert.True(delayed >= 36, $"youngest state {delayed:0.0} ms old with a 40 ms ± 4 ms sensor delay");
        // The delay adds at least 36 ms; 30 leaves 6 ms for a prompt run in which no state at all was read on time.
        Assert.True(delayed - prompt >= 30, $"youngest state {delayed:0.0} ms old delayed vs {prompt:0.0} ms prompt");
    }

    private static double YoungestStateAgeMilliseconds(TimeSpan delay)
    {
        using var host = SimServerHost.Start(Loopback() with { SensorDelay = delay, SensorJitter = delay / 10 });
        using var link = Connect(host.Endpoints);
        var ages = new List<double>();
        uint last = 0;
        while (ages.Count < 60)
        {
            link.WaitForState(TimeSpan.FromSeconds(1));
            if (link.TryGetLatestState(TimeSpan.MaxValue, out var state, out _) && state.Sequence != last)
            {
                last = state.Sequence;
                ages.Add((MonotonicClock.NowNanoseconds - (long)state.ArmTimeNanoseconds) / 1e6);
            }
        }
        return ages.Min();
    }

    [Fact]
    public void InjectedActuationDelayHoldsTheCommandBackBeforeItIsApplied()
    {
        using var host = SimServerHost.Start(Loopback(watchdogMilliseconds: 5000) with { ActuationDelay = TimeSpan.FromMilliseconds(60) });
        using var link = Connect(host.Endpoints);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        var sentAt = Stopwatch.GetTimestamp();
        link.Send(ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0.01, 0, 0, 0, 0, 0], 0), out var sent);
        ArmState state = default;
        Assert.True(Eventually(() => link.TryGetLatestState(TimeSpan.MaxValue, out state, out _) && state.LastCommandSequence == sent.Sequence));
        var applied = Stopwatch.GetElapsedTime(sentAt);
        Assert.True(applied >= TimeSpan.FromMilliseconds(55), $"applied after {applied.TotalMilliseconds:0.0} ms with a 60 ms actuation delay");
    }

    [Fact]
    public void InjectedFrameDropsShowAsSequenceGaps()
    {
        using var host = SimServerHost.Start(Loopback(cameraRateHz: 60) with { FrameDropProbability = 0.5 });
        using var context = ZmqContext.Create();
        using var socket = ZmqSocket.Create(context, ZmqSocketType.Subscriber);
        socket.Subscribe([]);
        socket.Connect(host.Endpoints.Cameras["wrist"]);
        using var message = new ZmqMessage();
        var frame = new CameraFrame(64, 64);
        var sequences = new List<long>();
        var deadline = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
        // No CONFLATE on this SUB: every frame the server publishes arrives, so a gap is a drop.
        while (sequences.Count < 40 && Stopwatch.GetTimestamp() < deadline)
        {
            if (socket.WaitReadable(200) && socket.TryReceive(message) == ZmqReceiveStatus.Received
                && CameraFrameStream.Decode(message.Data, frame, out _) == FrameMessageStatus.Ok)
                sequences.Add(frame.Sequence);
        }
        Assert.Equal(40, sequences.Count);
        var span = sequences[^1] - sequences[0] + 1;
        var missing = span - sequences.Count;
        Assert.True(missing >= 0.25 * span && missing <= 0.75 * span, $"{missing} of {span} frames missing with a drop probability of 0.5");
        Assert.True(host.Server.Statistics.FramesDropped > 0);
    }

    private static double MeanAbsoluteDifference(CameraFrame a, CameraFrame b)
    {
        long sum = 0;
        for (var i = 0; i < a.Pixels.Length; i++)
            sum += Math.Abs(a.Pixels[i] - b.Pixels[i]);
        return (double)sum / a.Pixels.Length;
    }
}
