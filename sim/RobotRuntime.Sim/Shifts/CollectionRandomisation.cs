using RobotRuntime.Sim.MuJoCo;

namespace RobotRuntime.Sim.Shifts;

/// <summary>One draw of the collection's visual randomisation (every value it sets).</summary>
/// <param name="TablePattern">Table-top texture pattern: Checker or Stripes.</param>
/// <param name="TableFirst">Table texture's first colour.</param>
/// <param name="TableSecond">Table texture's second colour (contrast to the first in [<see cref="CollectionRandomisation.MinContrast"/>, <see cref="CollectionRandomisation.MaxContrast"/>]).</param>
/// <param name="TableBody">Colour of the table's body.</param>
/// <param name="SkyPattern">Background texture pattern: Checker, Stripes or Noise.</param>
/// <param name="SkyFirst">Background's first colour.</param>
/// <param name="SkySecond">Background's second colour (same contrast band as the table's).</param>
/// <param name="Floor">Floor colour: a grey.</param>
/// <param name="Ambient">Every light's ambient level (grey), in [0, 0.35].</param>
/// <param name="Specular">Every light's specular level (grey), in [0.1, 0.6].</param>
public readonly record struct CollectionVisuals(
    TexturePattern TablePattern, Colour TableFirst, Colour TableSecond, Colour TableBody,
    TexturePattern SkyPattern, Colour SkyFirst, Colour SkySecond, Colour Floor,
    float Ambient, float Specular);

/// <summary>
/// The domain randomisation <c>rr collect</c> applies to its episodes, drawn from ranges chosen
/// so that no collected scene is a scene an evaluation shift preset makes:
/// <list type="bullet">
/// <item>table top: Checker or Stripes in two low-contrast colours (largest channel difference
/// 0.08–0.25) — the easy table preset paints only Gradient or Noise, the hard one needs a contrast ≥ 0.5;</item>
/// <item>background: Checker, Stripes or Noise in two low-contrast colours (same band), floor a grey —
/// the easy background preset paints only a Gradient, the hard one needs a contrast ≥ 0.5;</item>
/// <item>lights: ambient and specular levels, which no preset changes (the lighting presets change
/// diffuse colour, intensity and direction);</item>
/// <item>untouched: arm, gripper and puck colours, distractors and camera poses — the
/// object-colour, distractors and camera presets shift factors the collection never varies.</item>
/// </list>
/// </summary>
public static class CollectionRandomisation
{
    /// <summary>Name the randomisation's seed is derived with (see <see cref="VisualShifts.SeedFor"/>).</summary>
    public const string Name = "collection";

    /// <summary>Smallest largest-channel difference between a texture's two colours.</summary>
    public const float MinContrast = 0.08f;

    /// <summary>Largest largest-channel difference between a texture's two colours (the hard presets need ≥ 0.5).</summary>
    public const float MaxContrast = 0.25f;

    /// <summary>Draws every value from <paramref name="random"/>.</summary>
    public static CollectionVisuals Draw(Random random)
    {
        var tablePattern = random.Next(2) == 0 ? TexturePattern.Checker : TexturePattern.Stripes;
        var (tableFirst, tableSecond) = LowContrastPair(random);
        var body = Colour.Random(random);
        var skyPattern = random.Next(3) switch { 0 => TexturePattern.Checker, 1 => TexturePattern.Stripes, _ => TexturePattern.Noise };
        var (skyFirst, skySecond) = LowContrastPair(random);
        var grey = (float)(0.15 + 0.45 * random.NextDouble());
        var ambient = (float)(0.35 * random.NextDouble());
        var specular = (float)(0.1 + 0.5 * random.NextDouble());
        return new CollectionVisuals(tablePattern, tableFirst, tableSecond, body, skyPattern, skyFirst, skySecond, new Colour(grey, grey, grey), ambient, specular);
    }

    /// <summary>Draws and applies one randomisation to the scene (after <see cref="SceneVisuals.Restore"/> and any preset).</summary>
    public static CollectionVisuals Apply(ShiftContext context, Random random)
    {
        var draw = Draw(random);
        var model = context.Scene.Model;
        var table = context.Visuals.EditTexture(model.Id(MjObject.Texture, "table"), out var width, out var height);
        TexturePainter.Paint(table, width, height, draw.TablePattern, draw.TableFirst, draw.TableSecond, random);
        SetRgb(context.Visuals.MaterialRgba.Row(model.Id(MjObject.Material, "table_body")), draw.TableBody);
        var sky = context.Visuals.EditTexture(model.Id(MjObject.Texture, "background"), out width, out height);
        TexturePainter.Paint(sky, width, height, draw.SkyPattern, draw.SkyFirst, draw.SkySecond, random);
        SetRgb(context.Visuals.MaterialRgba.Row(model.Id(MjObject.Material, "floor")), draw.Floor);
        for (var light = 0; light < context.Visuals.LightAmbient.Rows; light++)
        {
            context.Visuals.LightAmbient.Row(light).Fill(draw.Ambient);
            context.Visuals.LightSpecular.Row(light).Fill(draw.Specular);
        }
        return draw;
    }

    private static (Colour First, Colour Second) LowContrastPair(Random random)
    {
        var first = Colour.Random(random);
        while (true)
        {
            var second = first.Jitter(random, MaxContrast);
            var contrast = second.Contrast(first);
            if (contrast >= MinContrast && contrast <= MaxContrast)
                return (first, second);
        }
    }

    private static void SetRgb(Span<float> rgba, Colour colour)
    {
        rgba[0] = colour.R;
        rgba[1] = colour.G;
        rgba[2] = colour.B;
    }
}
