using RobotRuntime.Sim.MuJoCo;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Sim.Shifts;

/// <summary>Which part of the picture a shift changes.</summary>
public enum ShiftFamily
{
    /// <summary>No change: the training distribution.</summary>
    None,
    /// <summary>Table-top texture (procedural patterns) and table colour.</summary>
    Table,
    /// <summary>Light colour, intensity and direction.</summary>
    Lighting,
    /// <summary>Colours of the arm, the gripper and the manipulated object.</summary>
    ObjectColour,
    /// <summary>Extra objects on the table.</summary>
    Distractors,
    /// <summary>Camera position and orientation.</summary>
    Camera,
    /// <summary>Sky and floor behind the table.</summary>
    Background,
}

/// <summary>How far a shift moves away from the training distribution.</summary>
public enum ShiftSeverity
{
    /// <summary>Training conditions.</summary>
    None,
    /// <summary>Near the training distribution.</summary>
    Easy,
    /// <summary>Far from it: colours, patterns and poses never seen in training.</summary>
    Hard,
}

/// <summary>What a shift may change: the scene, its visual arrays and the task (for where objects are).</summary>
/// <param name="Scene">The scene.</param>
/// <param name="Visuals">The scene's visual arrays, restored to their loaded values before the shift runs.</param>
/// <param name="Task">The task, for the points distractors keep clear of.</param>
public readonly record struct ShiftContext(TabletopScene Scene, SceneVisuals Visuals, TabletopTask Task);

/// <summary>A named, seeded visual shift preset.</summary>
/// <param name="Name">Preset name, e.g. "table-hard".</param>
/// <param name="Family">What it changes.</param>
/// <param name="Severity">How much.</param>
public sealed record VisualShift(string Name, ShiftFamily Family, ShiftSeverity Severity)
{
    /// <summary>Changes the scene for one episode; every random choice comes from <paramref name="random"/>.</summary>
    public void Apply(ShiftContext context, Random random)
    {
        var hard = Severity == ShiftSeverity.Hard;
        switch (Family)
        {
            case ShiftFamily.Table: VisualShifts.ShiftTable(context, random, hard); break;
            case ShiftFamily.Lighting: VisualShifts.ShiftLighting(context, random, hard); break;
            case ShiftFamily.ObjectColour: VisualShifts.ShiftObjectColours(context, random, hard); break;
            case ShiftFamily.Distractors: VisualShifts.PlaceDistractors(context, random, hard); break;
            case ShiftFamily.Camera: VisualShifts.JitterCameras(context, random, hard); break;
            case ShiftFamily.Background: VisualShifts.ShiftBackground(context, random, hard); break;
        }
    }
}

/// <summary>
/// The shift presets: "in-distribution", and "&lt;family&gt;-easy" / "&lt;family&gt;-hard" for the
/// families table, lighting, object-colour, distractors, camera and background.
/// </summary>
public static class VisualShifts
{
    /// <summary>The preset with no shift.</summary>
    public const string InDistribution = "in-distribution";

    /// <summary>Every preset, in-distribution first, then easy and hard per family.</summary>
    public static IReadOnlyList<VisualShift> Presets { get; } = BuildPresets();

    /// <summary>Every preset name.</summary>
    public static IReadOnlyList<string> Names { get; } = Presets.Select(p => p.Name).ToArray();

    /// <summary>The shift families by name, in preset order: table, lighting, object-colour, distractors, camera, background (each has "-easy" and "-hard" presets).</summary>
    public static IReadOnlyList<string> FamilyNames { get; } = Presets.Where(p => p.Severity == ShiftSeverity.Easy).Select(p => p.Name[..^"-easy".Length]).ToArray();

    /// <summary>The name of <paramref name="family"/> as the presets spell it ("object-colour"), or "none".</summary>
    public static string FamilyName(ShiftFamily family) =>
        family == ShiftFamily.None ? "none" : Presets.First(p => p.Family == family && p.Severity == ShiftSeverity.Easy).Name[..^"-easy".Length];

    /// <summary>
    /// The preset called <paramref name="name"/>. The severity may also come first and the table
    /// family be called by what it shifts, as people say it: "hard-textures" is "table-hard",
    /// "easy-lighting" is "lighting-easy".
    /// </summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the presets.</exception>
    public static VisualShift Get(string name) =>
        Presets.FirstOrDefault(p => p.Name == name)
        ?? Presets.FirstOrDefault(p => p.Name == CanonicalName(name))
        ?? throw new ArgumentException($"unknown visual shift '{name}'; expected one of {string.Join(", ", Names)}", nameof(name));

    private static string CanonicalName(string name)
    {
        foreach (var severity in new[] { "easy", "hard" })
        {
            if (!name.StartsWith(severity + "-", StringComparison.Ordinal))
                continue;
            var family = name[(severity.Length + 1)..] switch
            {
                "textures" or "texture" or "table-textures" => "table",
                "colours" or "colors" or "object-colours" or "object-colors" => "object-colour",
                "lights" or "light" => "lighting",
                "cameras" or "camera-pose" => "camera",
                var other => other,
            };
            return $"{family}-{severity}";
        }
        return name;
    }

    /// <summary>A seed for a preset's random choices derived from the episode seed and the preset name (stable across processes).</summary>
    public static int SeedFor(int episodeSeed, string presetName)
    {
        var hash = 2166136261u;
        foreach (var c in presetName)
            hash = (hash ^ c) * 16777619u;
        return (int)((hash ^ (uint)episodeSeed * 2654435761u) & 0x7fffffff);
    }

    private static VisualShift[] BuildPresets()
    {
        var presets = new List<VisualShift> { new(InDistribution, ShiftFamily.None, ShiftSeverity.None) };
        (string Name, ShiftFamily Family)[] families =
        [
            ("table", ShiftFamily.Table), ("lighting", ShiftFamily.Lighting), ("object-colour", ShiftFamily.ObjectColour),
            ("distractors", ShiftFamily.Distractors), ("camera", ShiftFamily.Camera), ("background", ShiftFamily.Background),
        ];
        foreach (var (name, family) in families)
        {
            presets.Add(new VisualShift($"{name}-easy", family, ShiftSeverity.Easy));
            presets.Add(new VisualShift($"{name}-hard", family, ShiftSeverity.Hard));
        }
        return presets.ToArray();
    }

    internal static void ShiftTable(ShiftContext context, Random random, bool hard)
    {
        var model = context.Scene.Model;
        var texture = model.Id(MjObject.Texture, "table");
        var (r, g, b) = context.Visuals.DefaultTexturePixel(texture);
        var trained = new Colour(r, g, b);
        Colour first, second;
        TexturePattern pattern;
        if (hard)
        {
            pattern = (TexturePattern)random.Next(4);
            first = Colour.Random(random);
            do second = Colour.Random(random); while (second.Contrast(first) < 0.5f);
        }
        else
        {
            pattern = random.Next(2) == 0 ? TexturePattern.Gradient : TexturePattern.Noise;
            first = trained.Jitter(random, 0.12);
            second = first.Jitter(random, 0.12);
        }
        var pixels = context.Visuals.EditTexture(texture, out var width, out var height);
        TexturePainter.Paint(pixels, width, height, pattern, first, second, random);
        var body = context.Visuals.MaterialRgba.Row(model.Id(MjObject.Material, "table_body"));
        var (br, bg, bb) = context.Visuals.DefaultMaterial(model.Id(MjObject.Material, "table_body"));
        var bodyColour = hard ? Colour.Random(random) : new Colour(br, bg, bb).Jitter(random, 0.08);
        body[0] = bodyColour.R;
        body[1] = bodyColour.G;
        body[2] = bodyColour.B;
    }

    internal static void ShiftLighting(ShiftContext context, Random random, bool hard)
    {
        var lights = context.Visuals.LightDiffuse.Rows;
        for (var light = 0; light < lights; light++)
        {
            var scale = hard ? 0.3 + 1.5 * random.NextDouble() : 0.75 + 0.5 * random.NextDouble();
            var tint = hard ? 0.45 : 0.1;
            var diffuse = context.Visuals.LightDiffuse.Row(light);
            for (var c = 0; c < 3; c++)
                diffuse[c] = (float)Math.Clamp(diffuse[c] * scale * (1 + tint * (2 * random.NextDouble() - 1)), 0, 1);
            var direction = context.Visuals.LightDirection.Row(light);
            Rotations.TiltDirection(direction, (hard ? 45 : 15) * Math.PI / 180 * random.NextDouble(), random);
        }
    }

    internal static void ShiftObjectColours(ShiftContext context, Random random, bool hard)
    {
        var model = context.Scene.Model;
        foreach (var material in new[] { "arm", "arm_dark", "gripper" })
        {
            var id = model.Id(MjObject.Material, material);
            var (r, g, b) = context.Visuals.DefaultMaterial(id);
            Paint(context.Visuals.MaterialRgba.Row(id), new Colour(r, g, b), random, hard);
        }
        if (context.Task is PushTask or PickPlaceTask)
        {
            var item = context.Visuals.GeomRgba.Row(model.Id(MjObject.Geom, context.Task is PushTask ? "puck" : "cube"));
            Paint(item, new Colour(item[0], item[1], item[2]), random, hard);
        }

        static void Paint(Span<float> rgba, Colour trained, Random random, bool hard)
        {
            var colour = hard ? Colour.Random(random) : trained.Mix(Colour.Random(random), 0.3f);
            rgba[0] = colour.R;
            rgba[1] = colour.G;
            rgba[2] = colour.B;
        }
    }

    internal static void PlaceDistractors(ShiftContext context, Random random, bool hard)
    {
        var scene = context.Scene;
        var count = hard ? TabletopScene.DistractorCount : 1 + random.Next(2);
        var keepClear = context.Task.KeepClear(scene).ToList();
        // Resting heights: box half-size, sphere radius, cylinder half-height, lying capsule radius.
        ReadOnlySpan<double> restingHeight = [0.025, 0.028, 0.035, 0.018];
        for (var i = 0; i < count; i++)
        {
            for (var attempt = 0; attempt < 50; attempt++)
            {
                var x = 0.2 + 0.5 * random.NextDouble();
                var y = -0.45 + 0.9 * random.NextDouble();
                if (keepClear.Any(p => Math.Sqrt((p.X - x) * (p.X - x) + (p.Y - y) * (p.Y - y)) < 0.08))
                    continue;
                var position = scene.MocapPos.Row(scene.DistractorMocap[i]);
                position[0] = x;
                position[1] = y;
                position[2] = restingHeight[i];
                keepClear.Add((x, y));
                break;
            }
            var colour = hard ? Colour.Random(random) : new Colour(0.5f, 0.5f, 0.5f).Mix(Colour.Random(random), 0.35f);
            var rgba = context.Visuals.GeomRgba.Row(scene.DistractorGeoms[i]);
            rgba[0] = colour.R;
            rgba[1] = colour.G;
            rgba[2] = colour.B;
        }
    }

    internal static void JitterCameras(ShiftContext context, Random random, bool hard)
    {
        var model = context.Scene.Model;
        Jitter(model.Id(MjObject.Camera, "front"), hard ? 0.08 : 0.025, hard ? 10 : 3);
        Jitter(model.Id(MjObject.Camera, "wrist"), hard ? 0.015 : 0.005, hard ? 6 : 2);

        void Jitter(int camera, double metres, double degrees)
        {
            var position = context.Visuals.CameraPosition.Row(camera);
            for (var axis = 0; axis < 3; axis++)
                position[axis] += metres * (2 * random.NextDouble() - 1);
            Rotations.RotateRandomly(context.Visuals.CameraQuaternion.Row(camera), degrees * Math.PI / 180 * random.NextDouble(), random);
        }
    }

    internal static void ShiftBackground(ShiftContext context, Random random, bool hard)
    {
        var model = context.Scene.Model;
        var sky = context.Visuals.EditTexture(model.Id(MjObject.Texture, "background"), out var width, out var height);
        if (hard)
        {
            var first = Colour.Random(random);
            Colour second;
            do second = Colour.Random(random); while (second.Contrast(first) < 0.5f);
            TexturePainter.Paint(sky, width, height, (TexturePattern)random.Next(4), first, second, random);
        }
        else
        {
            TexturePainter.Paint(sky, width, height, TexturePattern.Gradient,
                new Colour(0.62f, 0.72f, 0.82f).Jitter(random, 0.15), new Colour(0.16f, 0.2f, 0.26f).Jitter(random, 0.15), random);
        }
        var floorId = model.Id(MjObject.Material, "floor");
        var (r, g, b) = context.Visuals.DefaultMaterial(floorId);
        var floor = hard ? Colour.Random(random) : new Colour(r, g, b).Jitter(random, 0.1);
        var rgba = context.Visuals.MaterialRgba.Row(floorId);
        rgba[0] = floor.R;
        rgba[1] = floor.G;
        rgba[2] = floor.B;
    }
}

/// <summary>Small rotation helpers for shifts (quaternions w, x, y, z as MuJoCo stores them).</summary>
internal static class Rotations
{
    /// <summary>Rotates unit vector <paramref name="direction"/> by <paramref name="angle"/> radians about a random axis perpendicular to it.</summary>
    public static void TiltDirection(Span<double> direction, double angle, Random random)
    {
        Span<double> axis = stackalloc double[3];
        Span<double> reference = stackalloc double[3];
        RandomUnit(reference, random);
        Cross(direction, reference, axis);
        if (Normalise(axis) < 1e-9)
            return;
        Span<double> quaternion = stackalloc double[4];
        AxisAngle(axis, angle, quaternion);
        Rotate(quaternion, direction);
    }

    /// <summary>Turns <paramref name="quaternion"/> by <paramref name="angle"/> radians about a random axis (applied in the camera's frame).</summary>
    public static void RotateRandomly(Span<double> quaternion, double angle, Random random)
    {
        Span<double> axis = stackalloc double[3];
        RandomUnit(axis, random);
        Span<double> delta = stackalloc double[4];
        AxisAngle(axis, angle, delta);
        double w = quaternion[0], x = quaternion[1], y = quaternion[2], z = quaternion[3];
        double dw = delta[0], dx = delta[1], dy = delta[2], dz = delta[3];
        quaternion[0] = w * dw - x * dx - y * dy - z * dz;
        quaternion[1] = w * dx + x * dw + y * dz - z * dy;
        quaternion[2] = w * dy - x * dz + y * dw + z * dx;
        quaternion[3] = w * dz + x * dy - y * dx + z * dw;
    }

    private static void RandomUnit(Span<double> v, Random random)
    {
        do
        {
            for (var i = 0; i < 3; i++)
                v[i] = 2 * random.NextDouble() - 1;
        }
        while (Normalise(v) < 1e-3);
    }

    private static double Normalise(Span<double> v)
    {
        var length = Math.Sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        if (length > 0)
        {
            for (var i = 0; i < 3; i++)
                v[i] /= length;
        }
        return length;
    }

    private static void Cross(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> result)
    {
        result[0] = a[1] * b[2] - a[2] * b[1];
        result[1] = a[2] * b[0] - a[0] * b[2];
        result[2] = a[0] * b[1] - a[1] * b[0];
    }

    private static void AxisAngle(ReadOnlySpan<double> axis, double angle, Span<double> quaternion)
    {
        var s = Math.Sin(angle / 2);
        quaternion[0] = Math.Cos(angle / 2);
        quaternion[1] = axis[0] * s;
        quaternion[2] = axis[1] * s;
        quaternion[3] = axis[2] * s;
    }

    private static void Rotate(ReadOnlySpan<double> q, Span<double> v)
    {
        // v' = v + 2w(u × v) + 2u × (u × v), with u the vector part of q.
        double ux = q[1], uy = q[2], uz = q[3], w = q[0];
        double cx = uy * v[2] - uz * v[1], cy = uz * v[0] - ux * v[2], cz = ux * v[1] - uy * v[0];
        double ccx = uy * cz - uz * cy, ccy = uz * cx - ux * cz, ccz = ux * cy - uy * cx;
        v[0] += 2 * (w * cx + ccx);
        v[1] += 2 * (w * cy + ccy);
        v[2] += 2 * (w * cz + ccz);
    }
}
