using RobotRuntime.Kinematics;
using static RobotRuntime.Core.Tests.Kinematics.KinematicsTestData;

namespace RobotRuntime.Core.Tests.Kinematics;

public class KinematicChainJsonTests
{
    public static TheoryData<string> ChainNames => ["ur5e", "toy4", "mixed"];

    private static KinematicChain Chain(string name) => name == "mixed" ? KinematicChainTests.Mixed() : ArmKinematicsLibrary.Get(name);

    /// <summary>
    /// ToJson then Parse gives the same arm: names, types and limits exactly; the tool pose over 50
    /// random configurations within 1e-12 (rotations travel as roll, pitch, yaw, which costs a few
    /// roundings); and for the built-ins, whose angles (0, ±π/2, π) survive the trip to roll, pitch,
    /// yaw and back exactly, writing the parsed chain again gives the same text. (A general rotation
    /// may come back off in the last bit, 0.1 → 0.09999999999999999.)
    /// </summary>
    [Theory]
    [MemberData(nameof(ChainNames))]
    public void ToJsonRoundTripsThroughParse(string name)
    {
        var chain = Chain(name);
        var json = chain.ToJson();
        var parsed = KinematicChain.Parse(json, $"{name}.json");

        Assert.Equal(chain.Name, parsed.Name);
        Assert.Equal(chain.Joints.Select(j => (j.Name, j.Type, j.PositionMin, j.PositionMax)), parsed.Joints.Select(j => (j.Name, j.Type, j.PositionMin, j.PositionMax)));
        var random = new Random(31);
        for (var trial = 0; trial < 50; trial++)
        {
            var q = RandomConfiguration(random, chain, 0);
            chain.Forward(q, out var expected);
            parsed.Forward(q, out var actual);
            AssertPoseEqual(expected, actual, 1e-12, name);
        }
        if (name != "mixed")
            Assert.Equal(json, parsed.ToJson());
    }

    [Fact]
    public void Ur5eIsWrittenAsItsDhTable()
    {
        var json = ArmKinematicsLibrary.Get("ur5e").ToJson();
        Assert.Contains("\"d\": [0.1625, 0, 0, 0.1333, 0.0997, 0.0996]", json);
        Assert.Contains("\"a\": [0, -0.425, -0.3922, 0, 0, 0]", json);
        Assert.Contains("\"tool\": {\"xyz\": [0, 0, 0.15], \"rpy\": [0, 0, 0]}", json);
    }

    [Fact]
    public void LoadAndResolveReadFilesAndResolveAlsoTakesNames()
    {
        using var folder = new TemporaryDirectory();
        var path = Path.Combine(folder.Path, "arm.json");
        File.WriteAllText(path, """
            // A two-joint planar arm; comments and trailing commas are allowed.
            {
              "name": "planar",
              "joints": [
                {"name": "j1", "type": "revolute", "axis": [0, 0, 1], "min": -3, "max": 3},
                {"name": "j2", "type": "revolute", "xyz": [0.5, 0, 0], "axis": [0, 0, 1], "min": -3, "max": 3},
              ],
              "tool": {"xyz": [0.4, 0, 0]},
            }
            """);
        var chain = ArmKinematicsLibrary.Resolve(path);
        Assert.Equal("planar", chain.Name);
        // Elbow at (0.5, 0); the second link turned a quarter turn points along +y: tool at (0.5, 0.4).
        chain.Forward([0, Math.PI / 2], out var tool);
        Assert.Equal(0.5, tool.X, 1e-15);
        Assert.Equal(0.4, tool.Y, 1e-15);
        AssertPoseEqual(Pose.Identity, KinematicChain.Load(path).BaseFrame, 0);

        Assert.Same(ArmKinematicsLibrary.Get("ur5e"), ArmKinematicsLibrary.Resolve("ur5e"));
        var missing = Path.Combine(folder.Path, "none.json");
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => ArmKinematicsLibrary.Resolve(missing)).Message);
        Assert.Contains("toy4, ur5e", Assert.Throws<ArgumentException>(() => ArmKinematicsLibrary.Resolve("ur3")).Message);
    }

    private const string GoodJoint = """{"name": "j1", "type": "revolute", "xyz": [0, 0, 0.1], "axis": [0, 0, 1], "min": -1, "max": 1}""";

    public static TheoryData<string, string> BadFiles => new()
    {
        // A joint's axis with two numbers: the example of the brief.
        { $$"""{"name": "arm", "joints": [{{GoodJoint}}, {{GoodJoint.Replace("j1", "j2")}}, {"name": "j3", "type": "revolute", "axis": [0, 1], "min": -1, "max": 1}]}""",
          "joints[2].axis: expected 3 numbers, got 2" },
        { $$"""{"name": "arm", "joints": [{"name": "j1", "type": "spherical", "axis": [0, 0, 1], "min": -1, "max": 1}]}""",
          "joints[0].type: expected \"revolute\" or \"prismatic\", got \"spherical\"" },
        { $$"""{"name": "arm", "joints": [{"name": "j1", "type": "revolute", "axis": [0, 0, 1], "max": 1}]}""",
          "joints[0].min: missing" },
        { $$"""{"name": "arm", "joints": [{"name": "j1", "type": "revolute", "axes": [0, 0, 1], "min": -1, "max": 1}]}""",
          "joints[0].axes: unknown key; expected one of name, type, xyz, rpy, axis, min, max" },
        { $$"""{"name": "arm", "joints": [{"name": "j1", "type": "revolute", "axis": [0, 0, 1], "min": 2, "max": 1}]}""",
          "joints[0]: min 2 is above max 1" },
        { $$"""{"name": "arm", "joints": [{"name": "j1", "type": "revolute", "axis": [0, 0, "z"], "min": -1, "max": 1}]}""",
          "joints[0].axis[2]: expected a number, got a string (\"z\")" },
        { $$"""{"name": "arm", "joints": [{"name": "j1", "type": "revolute", "axis": [0, 0, 0], "min": -1, "max": 1}]}""",
          "joints[0] (j1): axis (0, 0, 0) has zero length" },
        { $$"""{"name": "arm", "dh": {"d": [0.1, 0.2], "a": [0.3], "alpha": [0, 0]}, "jointNames": ["a", "b"], "min": [-1, -1], "max": [1, 1]}""",
          "dh.a: expected 2 numbers, got 1" },
        { $$"""{"name": "arm", "dh": {"d": [0.1], "a": [0.3], "alpha": [0]}, "joints": []}""",
          "$: expected either \"joints\" or \"dh\", got both" },
        { $$"""{"name": "arm", "base": {"xyz": [0, 0], "rpy": [0, 0, 0]}, "joints": [{{GoodJoint}}]}""",
          "base.xyz: expected 3 numbers, got 2" },
        { """{"name": "arm", "joints": [""", "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void BadFilesNameTheFileThePathAndWhatWasExpected(string json, string message)
    {
        using var folder = new TemporaryDirectory();
        var path = Path.Combine(folder.Path, "arm.json");
        File.WriteAllText(path, json);
        var error = Assert.Throws<InvalidDataException>(() => KinematicChain.Load(path));
        Assert.StartsWith($"{path}: ", error.Message);
        Assert.Contains(message, error.Message);
    }
}
