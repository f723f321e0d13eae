using RobotRuntime.Sim.MuJoCo;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Sim.Tests;

public sealed class MuJoCoWrapperTests
{
    private const string Box = """
        <mujoco model="box">
          <worldbody>
            <light pos="0 0 2"/>
            <geom type="plane" size="1 1 0.1" rgba="0.5 0.5 0.5 1"/>
            <body name="box" pos="0 0 0.5"><freejoint/><geom type="box" size="0.1 0.1 0.1" rgba="0.9 0.1 0.1 1"/></body>
            <camera name="view" pos="0 -1.5 1" xyaxes="1 0 0 0 0.55 0.83"/>
          </worldbody>
        </mujoco>
        """;

    [Fact]
    public void MalformedMjcfIsRejectedWithMuJoCosReasonAndTheProcessLivesOn()
    {
        var error = Assert.Throws<SimulatorException>(() => MjModel.FromXml("<mujoco><worldbody><geom type='pyramid'/></worldbody></mujoco>"));
        Assert.Contains("MuJoCo rejected the MJCF", error.Message);
        Assert.Contains("pyramid", error.Message);

        var notXml = Assert.Throws<SimulatorException>(() => MjModel.FromXml("this is not MJCF"));
        Assert.Contains("MuJoCo rejected the MJCF", notXml.Message);

        // MuJoCo 2.2.2 rejects a range without limited unless autolimits is on (NATIVE-NOTES).
        var range = Assert.Throws<SimulatorException>(() => MjModel.FromXml(
            "<mujoco><worldbody><body><joint type='hinge' range='0 1'/><geom size='0.1'/></body></worldbody></mujoco>"));
        Assert.Contains("limited", range.Message);

        using var model = MjModel.FromXml(Box);
        Assert.Equal(7, model.Size("nq"));
    }

    [Fact]
    public void EmptyMjcfIsRejectedBeforeMuJoCoSeesIt()
    {
        var error = Assert.Throws<SimulatorException>(() => MjModel.FromXml(""));
        Assert.Contains("MJCF text is empty", error.Message);
    }

    [Fact]
    public void UnknownBodyOrCameraNameIsAnErrorNamingKindAndName()
    {
        using var model = MjModel.FromXml(Box);
        Assert.Equal(1, model.Id(MjObject.Body, "box"));
        Assert.Equal(0, model.Id(MjObject.Camera, "view"));

        var body = Assert.Throws<SimulatorException>(() => model.Id(MjObject.Body, "gripper"));
        Assert.Contains("the model has no body named 'gripper'", body.Message);
        var camera = Assert.Throws<SimulatorException>(() => model.Id(MjObject.Camera, "ceiling"));
        Assert.Contains("the model has no camera named 'ceiling'", camera.Message);
    }

    [Fact]
    public void FieldsHaveTheShapesMjxmacroGivesThemAndWritesReachMuJoCo()
    {
        using var model = MjModel.FromXml(Box);
        using var data = new MjData(model);
        var rgba = model.Field<float>("geom_rgba");
        Assert.Equal((model.Size("ngeom"), 4), (rgba.Rows, rgba.Columns));
        Assert.Equal(0.9f, rgba.Row(1)[0]);
        var qpos = data.Field<double>("qpos");
        Assert.Equal((7, 1), (qpos.Rows, qpos.Columns));
        Assert.Equal(0.5, qpos.Span[2]);

        qpos.Span[2] = 1.25;
        data.Forward();
        Assert.Equal(1.25, data.Field<double>("xpos").Row(1)[2]);
    }

    [Fact]
    public void UnknownFieldsWrongElementTypesAndStructArraysAreRefusedByName()
    {
        using var model = MjModel.FromXml(Box);
        using var data = new MjData(model);
        Assert.Contains("mjModel has no array named 'geom_colour'", Assert.Throws<SimulatorException>(() => model.Field<float>("geom_colour")).Message);
        Assert.Contains("mjData has no array named 'qpos_typo'", Assert.Throws<SimulatorException>(() => data.Field<double>("qpos_typo")).Message);
        Assert.Contains("'geom_rgba' holds Single, not Double", Assert.Throws<SimulatorException>(() => model.Field<double>("geom_rgba")).Message);
        Assert.Contains("'contact' holds structs", Assert.Throws<SimulatorException>(() => data.Field<double>("contact")).Message);
        Assert.Contains("no int size named 'nwheels'", Assert.Throws<SimulatorException>(() => model.Size("nwheels")).Message);
    }

    [Fact]
    public void SteppingLetsTheBoxFallUnderGravityAndAdvancesTime()
    {
        using var model = MjModel.FromXml(Box);
        using var data = new MjData(model);
        data.Step(100);
        Assert.Equal(100 * model.Timestep, data.Time, 12);
        Assert.True(data.Field<double>("qpos").Span[2] < 0.5, "the box should have fallen");
        data.Reset();
        Assert.Equal(0, data.Time);
        Assert.Equal(0.5, data.Field<double>("qpos").Span[2]);
    }

    [Fact]
    public unsafe void RenderWithoutAContextIsAClearErrorAndTheProcessLivesOn()
    {
        using var model = MjModel.FromXml(Box);
        using var data = new MjData(model);
        var rgb = new byte[16 * 16 * 3];
        int status;
        fixed (byte* pixels = rgb)
            status = MuJoCoNative.Render(0, model.Pointer, data.Pointer, 0, 16, 16, pixels, rgb.Length);
        var error = Assert.Throws<SimulatorException>(() => MuJoCoNative.Check(status, "Rendering"));
        Assert.Contains("no render context", error.Message);

        var renderer = new MjRenderer(model, 16, 16);
        renderer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => renderer.Render(data, 0, 16, 16, rgb));

        using var stateOnly = new TabletopEnvironment(new TabletopEnvironmentOptions(RenderImages: false));
        stateOnly.Reset(0);
        var refused = Assert.Throws<InvalidOperationException>(() => stateOnly.RenderCamera("front", 16, 16, rgb));
        Assert.Contains("no render context", refused.Message);

        using var working = new MjRenderer(model, 16, 16);
        data.Forward();
        working.Render(data, 0, 16, 16, rgb);
        Assert.Contains(rgb, b => b != 0);
    }

    [Fact]
    public void RenderingFromAnotherThreadThanTheContextsOwnerIsRefused()
    {
        using var model = MjModel.FromXml(Box);
        using var data = new MjData(model);
        using var renderer = new MjRenderer(model, 16, 16);
        data.Forward();
        Exception? failure = null;
        var thread = new Thread(() => failure = Record.Exception(() => renderer.Render(data, 0, 16, 16, new byte[16 * 16 * 3])));
        thread.Start();
        thread.Join();
        Assert.IsType<SimulatorException>(failure);
        Assert.Contains("belongs to the thread that created it", failure!.Message);
        renderer.Render(data, 0, 16, 16, new byte[16 * 16 * 3]);
    }

    [Fact]
    public void OversizedImagesAndBadCameraIdsAreRefusedWithTheLimits()
    {
        using var model = MjModel.FromXml(Box);
        using var data = new MjData(model);
        using var renderer = new MjRenderer(model, 16, 16);
        var rgb = new byte[32 * 32 * 3];
        Assert.Contains("must be within the renderer's 16x16", Assert.Throws<SimulatorException>(() => renderer.Render(data, 0, 32, 32, rgb)).Message);
        Assert.Contains("camera id 3 out of range 0..0", Assert.Throws<SimulatorException>(() => renderer.Render(data, 3, 16, 16, rgb)).Message);
        Assert.Contains("rgb buffer holds 10 bytes", Assert.Throws<SimulatorException>(() => renderer.Render(data, 0, 16, 16, new byte[10])).Message);
    }

    [Theory]
    [InlineData(0.4, 0.0, 0.015)]
    [InlineData(0.25, -0.2, 0.1)]
    [InlineData(0.45, 0.2, 0.25)]
    [InlineData(0.2, 0.1, 0.02)]
    public void InverseKinematicsPutsTheSimulatedFingertipOnTheTarget(double x, double y, double z)
    {
        using var scene = new TabletopScene("");
        Span<double> joints = stackalloc double[4];
        ArmKinematics.Solve(x, y, z, joints);
        scene.PlaceArm(joints, 0);
        scene.Data.Forward();
        var (tx, ty, tz) = scene.Tip;
        Assert.True(Math.Abs(tx - x) < 1e-6 && Math.Abs(ty - y) < 1e-6 && Math.Abs(tz - z) < 1e-6, $"tip at ({tx}, {ty}, {tz}), wanted ({x}, {y}, {z})");
    }

    [Fact]
    public void WorkspaceClampingTurnsAnOutOfReachPointIntoOneTheFingertipReaches()
    {
        using var scene = new TabletopScene("");
        var (x, y, z) = ArmKinematics.ClampToWorkspace(0.7, 0.5, 0.5);
        Assert.True(z <= 0.35 && y <= 0.4, $"clamped to ({x}, {y}, {z})");
        Span<double> joints = stackalloc double[4];
        ArmKinematics.Solve(x, y, z, joints);
        scene.PlaceArm(joints, 0);
        scene.Data.Forward();
        var (tx, ty, tz) = scene.Tip;
        Assert.True(Math.Abs(tx - x) < 1e-6 && Math.Abs(ty - y) < 1e-6 && Math.Abs(tz - z) < 1e-6, $"tip at ({tx}, {ty}, {tz}), wanted ({x}, {y}, {z})");
    }
}
