using RobotRuntime.Environments;
using RobotRuntime.Sim.Shifts;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Sim.Tests;

public sealed class VisualShiftTests
{
    private const int Size = 48;
    private static readonly int[] Seeds = [1, 2, 3];

    /// <summary>
    /// Per preset, over both cameras' first images for three seeds, compared with the unshifted
    /// images: the mean absolute difference per byte (0..255) and the fraction of pixels whose
    /// largest channel change exceeds 20 levels.
    /// </summary>
    private static Dictionary<string, (double Mean, double Changed)> DifferenceFromInDistribution(string task)
    {
        using var environment = new TabletopEnvironment(new TabletopEnvironmentOptions(task, ImageWidth: Size, ImageHeight: Size));
        var reference = Render(environment, VisualShifts.InDistribution);
        var result = new Dictionary<string, (double, double)>();
        foreach (var preset in VisualShifts.Names)
        {
            var images = Render(environment, preset);
            double total = 0;
            long bytes = 0, changed = 0;
            for (var i = 0; i < images.Count; i++)
            {
                for (var pixel = 0; pixel < images[i].Length; pixel += 3)
                {
                    var largest = 0;
                    for (var c = 0; c < 3; c++)
                    {
                        var d = Math.Abs(images[i][pixel + c] - reference[i][pixel + c]);
                        total += d;
                        largest = Math.Max(largest, d);
                    }
                    if (largest > 20)
                        changed++;
                }
                bytes += images[i].Length;
            }
            result[preset] = (total / bytes, changed / (bytes / 3.0));
        }
        return result;
    }

    private static List<byte[]> Render(TabletopEnvironment environment, string preset)
    {
        environment.Shift = preset;
        var images = new List<byte[]>();
        foreach (var seed in Seeds)
        {
            var observation = environment.Reset(seed);
            images.AddRange(observation.Cameras.Select(c => c.Rgb.ToArray()));
        }
        return images;
    }

    [Fact]
    public void EveryShiftPresetVisiblyChangesTheImagesAndHardChangesThemMoreThanEasy()
    {
        var difference = DifferenceFromInDistribution("push");
        Assert.Equal((0, 0), difference[VisualShifts.InDistribution]);
        var report = string.Join(", ", difference.Select(p => $"{p.Key} {p.Value.Mean:F2}/{100 * p.Value.Changed:F1}%"));
        foreach (var preset in VisualShifts.Presets.Where(p => p.Family != ShiftFamily.None))
            Assert.True(difference[preset.Name].Changed > 0.003, $"{preset.Name} changed only {100 * difference[preset.Name].Changed:F2}% of pixels by more than 20 levels (mean/changed: {report})");
        foreach (var family in new[] { "table", "lighting", "object-colour", "distractors", "camera", "background" })
            Assert.True(difference[$"{family}-hard"].Mean > difference[$"{family}-easy"].Mean, $"{family}: hard should change more than easy (mean/changed: {report})");
    }

    [Fact]
    public void HardTableTexturesSpreadTheColoursOfTheTableMoreThanTheTrainingTable()
    {
        // The bottom quarter of the front image is table top in every preset of this family.
        static double BottomSpread(TabletopEnvironment environment, int seed)
        {
            var rgb = environment.Reset(seed).Camera("front").Rgb;
            var values = new List<double>();
            for (var y = Size * 3 / 4; y < Size; y++)
            {
                for (var x = 0; x < Size; x++)
                {
                    var i = (y * Size + x) * 3;
                    values.Add(rgb[i] + rgb[i + 1] + rgb[i + 2]);
                }
            }
            var mean = values.Average();
            return Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
        }

        using var trained = new TabletopEnvironment(new TabletopEnvironmentOptions("reach", ImageWidth: Size, ImageHeight: Size));
        using var shifted = new TabletopEnvironment(new TabletopEnvironmentOptions("reach", ImageWidth: Size, ImageHeight: Size, Shift: "table-hard"));
        var trainedSpread = Seeds.Average(seed => BottomSpread(trained, seed));
        var shiftedSpread = Seeds.Average(seed => BottomSpread(shifted, seed));
        Assert.True(shiftedSpread > 2 * trainedSpread, $"table-hard spread {shiftedSpread:F1} vs training table {trainedSpread:F1}");
    }

    [Fact]
    public void ShiftsChangeOnlyWhatIsSeenNotThePhysics()
    {
        using var trained = new TabletopEnvironment(new TabletopEnvironmentOptions("push", ImageWidth: 16, ImageHeight: 16));
        using var shifted = new TabletopEnvironment(new TabletopEnvironmentOptions("push", ImageWidth: 16, ImageHeight: 16, Shift: "distractors-hard"));
        var a = trained.Reset(4);
        var b = shifted.Reset(4);
        Assert.Equal(a.Proprioception, b.Proprioception);
        var action = new float[] { 0.5f, 0.2f, -0.5f, 1 };
        for (var i = 0; i < 10; i++)
            Assert.Equal(trained.Step(action).Reward, shifted.Step(action).Reward);
        Assert.Equal(trained.Scene.Qpos.Span.ToArray(), shifted.Scene.Qpos.Span.ToArray());
    }

    [Fact]
    public void PresetsAnswerToTheNamesUsersTypeToo()
    {
        // USERS.md: `rr sim-server --shift hard-textures`.
        Assert.Equal("table-hard", VisualShifts.Get("hard-textures").Name);
        Assert.Equal("lighting-easy", VisualShifts.Get("easy-lighting").Name);
        Assert.Equal("object-colour-hard", VisualShifts.Get("hard-colors").Name);
        Assert.Equal("distractors-hard", VisualShifts.Get("hard-distractors").Name);
        Assert.Throws<ArgumentException>(() => VisualShifts.Get("hard-fog"));
    }

    [Fact]
    public void PresetsAreInDistributionPlusEasyAndHardPerFamilyAndUnknownNamesAreListed()
    {
        Assert.Equal(13, VisualShifts.Names.Count);
        Assert.Equal(VisualShifts.InDistribution, VisualShifts.Names[0]);
        Assert.Equal(VisualShifts.Names.Count, VisualShifts.Names.Distinct().Count());
        foreach (var family in Enum.GetValues<ShiftFamily>().Where(f => f != ShiftFamily.None))
        {
            Assert.Single(VisualShifts.Presets, p => p.Family == family && p.Severity == ShiftSeverity.Easy);
            Assert.Single(VisualShifts.Presets, p => p.Family == family && p.Severity == ShiftSeverity.Hard);
        }
        var error = Assert.Throws<ArgumentException>(() => VisualShifts.Get("night"));
        Assert.Contains("unknown visual shift 'night'; expected one of in-distribution, table-easy, table-hard", error.Message);
    }

    [Fact]
    public void TexturePatternsAreDeterministicAndUseBothColours()
    {
        foreach (var pattern in Enum.GetValues<TexturePattern>())
        {
            var a = new byte[32 * 32 * 3];
            var b = new byte[32 * 32 * 3];
            TexturePainter.Paint(a, 32, 32, pattern, new Colour(1, 0, 0), new Colour(0, 0, 1), new Random(5));
            TexturePainter.Paint(b, 32, 32, pattern, new Colour(1, 0, 0), new Colour(0, 0, 1), new Random(5));
            Assert.Equal(a, b);
            var reds = Enumerable.Range(0, 32 * 32).Select(i => (int)a[i * 3]).ToArray();
            Assert.True(reds.Max() - reds.Min() > 100, $"{pattern} should span both colours, red went {reds.Min()}..{reds.Max()}");
        }
    }
}
