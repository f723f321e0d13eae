using RobotRuntime.Environments;
using RobotRuntime.Sim.Shifts;
using RobotRuntime.Sim.Tabletop;
using RobotRuntime.Testing;

namespace RobotRuntime.Sim.Tests;

public sealed class TabletopEnvironmentTests
{
    private static TabletopEnvironment Make(string task = "reach", string shift = VisualShifts.InDistribution, ActionMode mode = ActionMode.EndEffectorDelta, int size = 32) =>
        new(new TabletopEnvironmentOptions(task, mode, size, size, shift));

    private static long Bits(double value) => BitConverter.DoubleToInt64Bits(value);

    [Theory]
    [InlineData("push", "in-distribution")]
    [InlineData("push", "table-hard")]
    [InlineData("reach", "distractors-hard")]
    [InlineData("peek", "camera-hard")]
    public void SameSeedAndActionsGiveBitIdenticalStatesAndImages(string task, string shift)
    {
        using var first = Make(task, shift);
        using var second = Make(task, shift);
        var a = first.Reset(7).Clone();
        var b = second.Reset(7).Clone();
        AssertSame(a, b);
        var random = new Random(3);
        var action = new float[4];
        for (var step = 0; step < 25; step++)
        {
            for (var i = 0; i < action.Length; i++)
                action[i] = (float)(2 * random.NextDouble() - 1);
            var x = first.Step(action);
            var y = second.Step(action);
            Assert.Equal(Bits(x.Reward), Bits(y.Reward));
            Assert.Equal(x.Done, y.Done);
            AssertSame(x.Observation, y.Observation);
            var qposFirst = first.Scene.Qpos.Span.ToArray().Select(Bits);
            var qposSecond = second.Scene.Qpos.Span.ToArray().Select(Bits);
            Assert.Equal(qposFirst, qposSecond);
            Assert.Equal(first.Scene.Qvel.Span.ToArray().Select(Bits), second.Scene.Qvel.Span.ToArray().Select(Bits));
            if (x.Done)
                break;
        }
    }

    [Fact]
    public void ResettingWithAnEarlierSeedReproducesItsEpisodeAfterOtherEpisodesChangedTheScene()
    {
        using var environment = Make("push", "table-hard");
        var first = environment.Reset(11).Clone();
        environment.Reset(12);
        environment.Step(new float[] { 1, 0, 0, 1 });
        var again = environment.Reset(11);
        AssertSame(first, again);
        environment.Shift = VisualShifts.InDistribution;
        Assert.NotEqual(first.Camera("front").Rgb, environment.Reset(11).Camera("front").Rgb);
        environment.Shift = "table-hard";
        AssertSame(first, environment.Reset(11));
        Assert.Contains("unknown visual shift 'table-medium'", Assert.Throws<ArgumentException>(() => environment.Shift = "table-medium").Message);
    }

    [Fact]
    public void DifferentSeedsGiveDifferentGoalsAndImages()
    {
        using var environment = Make("push");
        var first = environment.Reset(1).Clone();
        var goalFirst = ((PushTask)environment.Task).Goal(environment.Scene);
        var second = environment.Reset(2);
        Assert.NotEqual(goalFirst, ((PushTask)environment.Task).Goal(environment.Scene));
        Assert.NotEqual(first.Camera("front").Rgb, second.Camera("front").Rgb);
    }

    [Fact]
    public void ObservationsCarryBothCamerasAtTheRequestedSizeProprioceptionAndSimulationTimestamps()
    {
        using var environment = new TabletopEnvironment(new TabletopEnvironmentOptions("reach", ImageWidth: 40, ImageHeight: 24));
        Assert.Equal(["front", "wrist"], environment.Spec.CameraNames);
        Assert.Equal(12, environment.Spec.ProprioceptionNames.Count);
        Assert.Equal(0.04, environment.Spec.ControlPeriodSeconds, 12);
        var observation = environment.Reset(0);
        Assert.Equal(0, observation.TimestampSeconds);
        foreach (var camera in observation.Cameras)
        {
            Assert.Equal((40, 24, 40 * 24 * 3), (camera.Width, camera.Height, camera.Rgb.Length));
            Assert.Contains(camera.Rgb, b => b != 0);
        }
        Assert.NotEqual(observation.Camera("front").Rgb, observation.Camera("wrist").Rgb);
        var result = environment.Step(new float[4]);
        result = environment.Step(new float[4]);
        Assert.Equal(0.08, result.Observation.TimestampSeconds, 9);
        Assert.All(result.Observation.Cameras, c => Assert.Equal(0.08, c.TimestampSeconds, 9));
        var (x, y, z) = environment.Scene.Tip;
        Assert.Equal([(float)x, (float)y, (float)z], result.Observation.Proprioception[9..12]);
        Assert.Contains("no camera named 'top'", Assert.Throws<ArgumentException>(() => observation.Camera("top")).Message);
    }

    [Fact]
    public void BadActionsAndCallsOutOfOrderAreRefusedWithWhatWasExpected()
    {
        using var environment = Make();
        Assert.Contains("before Reset", Assert.Throws<InvalidOperationException>(() => environment.Step(new float[4])).Message);
        environment.Reset(0);
        Assert.Contains("action has 5 values; EndEffectorDelta expects 4 (dx, dy, dz, gripper)",
            Assert.Throws<ArgumentException>(() => environment.Step(new float[5])).Message);
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => environment.Step(new[] { 0f, float.NaN, 0, 0 })).Message);
        Assert.Contains("unknown task 'stack'; expected one of reach, push, peek",
            Assert.Throws<ArgumentException>(() => new TabletopEnvironment(new TabletopEnvironmentOptions("stack"))).Message);
        Assert.Contains("unknown visual shift 'fog-hard'",
            Assert.Throws<ArgumentException>(() => new TabletopEnvironment(new TabletopEnvironmentOptions(Shift: "fog-hard"))).Message);
        Assert.Contains("image size must be 1..1024",
            Assert.Throws<ArgumentException>(() => new TabletopEnvironment(new TabletopEnvironmentOptions(ImageWidth: 0))).Message);
    }

    [Fact]
    public void UsingTheEnvironmentFromAnotherThreadIsRefused()
    {
        using var environment = Make();
        Exception? failure = null;
        var thread = new Thread(() => failure = Record.Exception(() => environment.Reset(0)));
        thread.Start();
        thread.Join();
        Assert.IsType<InvalidOperationException>(failure);
        Assert.Contains("must be used on the thread that created it", failure!.Message);
    }

    [Fact]
    public void AnIdleEpisodeIsTruncatedAtTheTimeLimitAndThenRefusesSteps()
    {
        using var environment = new TabletopEnvironment(new TabletopEnvironmentOptions("reach", RenderImages: false));
        environment.Reset(5);
        StepResult result;
        var steps = 0;
        do
        {
            result = environment.Step(new float[] { 0, 0, 0, -1 });
            steps++;
        }
        while (!result.Done);
        Assert.Equal(environment.Spec.MaxEpisodeSteps, steps);
        Assert.True(result.Truncated);
        Assert.False(result.Terminated);
        Assert.False(result.Info.IsSuccess);
        Assert.Contains("episode has ended", Assert.Throws<InvalidOperationException>(() => environment.Step(new float[4])).Message);
    }

    [Fact]
    public void EndEffectorDeltaMovesTheFingertipByTheCommandedDistance()
    {
        using var environment = new TabletopEnvironment(new TabletopEnvironmentOptions("reach", RenderImages: false));
        environment.Reset(0);
        var (x0, y0, z0) = environment.Scene.Tip;
        for (var i = 0; i < 3; i++)
            environment.Step(new float[] { 1, -0.5f, 0, -1 });
        for (var i = 0; i < 10; i++)
            environment.Step(new float[] { 0, 0, 0, -1 });
        var (x1, y1, z1) = environment.Scene.Tip;
        // 3 steps of 3 cm in x and 1.5 cm in −y; the servo settles within 2 mm.
        Assert.Equal(0.09, x1 - x0, 0.002);
        Assert.Equal(-0.045, y1 - y0, 0.002);
        Assert.Equal(0, z1 - z0, 0.002);
    }

    [Fact]
    public void JointPositionTargetsMapMinusOneToOneOntoEachJointsRange()
    {
        using var environment = new TabletopEnvironment(new TabletopEnvironmentOptions("reach", ActionMode.JointPositionTargets, RenderImages: false));
        Assert.Equal(["yaw", "shoulder", "elbow", "wrist", "gripper"], environment.Spec.Action.Names);
        environment.Reset(0);
        var action = new float[] { 0.5f, 0, 0.2f, -0.2f, 1 };
        StepResult result = default;
        for (var i = 0; i < 25; i++)
            result = environment.Step(action);
        for (var joint = 0; joint < 4; joint++)
        {
            var low = ArmKinematics.JointLow[joint];
            var high = ArmKinematics.JointHigh[joint];
            var expected = low + (action[joint] + 1) / 2 * (high - low);
            Assert.Equal(expected, result.Observation.Proprioception[joint], 0.02);
        }
        Assert.Equal(0, result.Observation.Proprioception[8], 0.003); // gripper +1: closed
    }

    [Fact]
    public void SteppingWithBothCamerasAllocatesNothingManagedInSteadyState()
    {
        using var environment = Make("push");
        environment.Reset(0);
        var action = new float[] { 0.3f, 0.1f, -0.2f, 1 };
        for (var i = 0; i < 5; i++)
            environment.Step(action);
        // Counted from an empty allocation buffer (ThreadAllocations.During): other Sim classes run
        // alongside and a GC they start would count the unused rest of this thread's buffer.
        Assert.Equal(0, ThreadAllocations.During(() =>
        {
            for (var i = 0; i < 20; i++)
                environment.Step(action);
        }));
    }

    [Fact]
    public void ThePeekPadIsHiddenFromTheFrontCameraButSeenByTheWristCamera()
    {
        using var environment = Make("peek", size: 64);
        environment.Reset(3);
        var task = (PeekTask)environment.Task;
        var (padX, padY) = task.Pad(environment.Scene);
        // Hover the wrist camera over the pad.
        for (var i = 0; i < 15; i++)
        {
            var setpoint = environment.Setpoint;
            environment.Step(new float[] { (float)Math.Clamp((padX - setpoint.X) / 0.03, -1, 1), (float)Math.Clamp((padY - setpoint.Y) / 0.03, -1, 1), (float)Math.Clamp((0.2 - setpoint.Z) / 0.03, -1, 1), -1 });
        }
        var front = new byte[64 * 64 * 3];
        var wrist = new byte[64 * 64 * 3];
        environment.RenderCamera("front", 64, 64, front);
        environment.RenderCamera("wrist", 64, 64, wrist);
        // Recolour the pad and render again: only the wrist camera may notice.
        var padGeom = environment.Scene.Model.Id(MuJoCo.MjObject.Geom, "pad");
        var rgba = environment.Scene.Model.Field<float>("geom_rgba").Row(padGeom);
        rgba[0] = 0.1f;
        rgba[1] = 0.2f;
        rgba[2] = 0.9f;
        var frontAfter = new byte[64 * 64 * 3];
        var wristAfter = new byte[64 * 64 * 3];
        environment.RenderCamera("front", 64, 64, frontAfter);
        environment.RenderCamera("wrist", 64, 64, wristAfter);
        Assert.Equal(front, frontAfter);
        var changed = wrist.Zip(wristAfter).Count(p => p.First != p.Second);
        Assert.True(changed > 64 * 3, $"only {changed} wrist-camera bytes changed when the pad changed colour");
    }

    internal static void AssertSame(Observation expected, Observation actual)
    {
        Assert.Equal(Bits(expected.TimestampSeconds), Bits(actual.TimestampSeconds));
        Assert.Equal(expected.Proprioception, actual.Proprioception);
        Assert.Equal(expected.Cameras.Count, actual.Cameras.Count);
        for (var i = 0; i < expected.Cameras.Count; i++)
            Assert.True(expected.Cameras[i].Rgb.AsSpan().SequenceEqual(actual.Cameras[i].Rgb), $"camera {expected.Cameras[i].Name} images differ");
    }
}
