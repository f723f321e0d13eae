using RobotRuntime.Sim.Shifts;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Sim.Preview;

/// <summary>How to draw the preview grid.</summary>
/// <param name="CellSize">Side of each camera image in pixels (16..256).</param>
/// <param name="Seed">Episode seed for every task and preset (the same seed gives the same grid).</param>
/// <param name="FrameSteps">Steps at which the front camera is shown; the wrist camera is shown at the last.</param>
public sealed record PreviewOptions(int CellSize = 64, int Seed = 1, int[]? FrameSteps = null)
{
    /// <summary>The steps actually used: <see cref="FrameSteps"/> or 0, 10 and 20.</summary>
    public IReadOnlyList<int> Steps => FrameSteps ?? [0, 10, 20];
}

/// <summary>
/// Renders a short clip of each task under each shift preset, driven by the scripted controller,
/// into one labelled image: a row per preset; per task a group of front-camera frames followed by
/// the wrist camera's last frame.
/// </summary>
public static class ShiftPreview
{
    private const int Gutter = 2;
    private const int LabelScale = 2;
    private static readonly byte[] Background = [24, 24, 28];
    private static readonly byte[] Ink = [235, 235, 235];

    /// <summary>Renders the grid on the calling thread (which owns the GL contexts made for it).</summary>
    /// <returns>The grid as width, height and RGB bytes, top row first.</returns>
    /// <exception cref="ArgumentException">Cell size out of range or no frame steps.</exception>
    public static (int Width, int Height, byte[] Rgb) Render(PreviewOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.CellSize is < 16 or > 256)
            throw new ArgumentException($"cell size must be 16..256 pixels, got {options.CellSize}", nameof(options));
        var steps = options.Steps;
        if (steps.Count == 0 || steps.Any(s => s < 0))
            throw new ArgumentException("frame steps must be a non-empty list of steps ≥ 0", nameof(options));
        var tasks = TabletopTask.Names;
        var presets = VisualShifts.Names;
        var cell = options.CellSize;
        var pitch = cell + Gutter;
        var perTask = steps.Count + 1;
        var labelWidth = presets.Max(p => p.Length) * Font.Advance * LabelScale + 2 * Gutter;
        var headerHeight = Font.Height * LabelScale + 3 * Gutter;
        var width = labelWidth + tasks.Count * perTask * pitch + (tasks.Count - 1) * 3 * Gutter;
        var height = headerHeight + presets.Count * pitch;
        var canvas = new byte[width * height * 3];
        for (var i = 0; i < canvas.Length; i += 3)
            Background.CopyTo(canvas, i);

        var frame = new byte[cell * cell * 3];
        var action = new float[4];
        for (var t = 0; t < tasks.Count; t++)
        {
            var groupLeft = labelWidth + t * (perTask * pitch + 3 * Gutter);
            Font.Draw(canvas, width, groupLeft, Gutter, $"{tasks[t]}: front x{steps.Count}, wrist", LabelScale, Ink);
            using var environment = new TabletopEnvironment(new TabletopEnvironmentOptions(tasks[t], ImageWidth: cell, ImageHeight: cell));
            for (var p = 0; p < presets.Count; p++)
            {
                var top = headerHeight + p * pitch;
                if (t == 0)
                    Font.Draw(canvas, width, Gutter, top + (cell - Font.Height * LabelScale) / 2, presets[p], LabelScale, Ink);
                environment.Shift = presets[p];
                environment.Reset(options.Seed);
                var step = 0;
                var done = false;
                for (var f = 0; f < steps.Count; f++)
                {
                    while (step < steps[f] && !done)
                    {
                        ScriptedController.Act(environment, action);
                        done = environment.Step(action).Done;
                        step++;
                    }
                    environment.RenderCamera("front", cell, cell, frame);
                    Blit(canvas, width, frame, cell, groupLeft + f * pitch, top);
                }
                environment.RenderCamera("wrist", cell, cell, frame);
                Blit(canvas, width, frame, cell, groupLeft + steps.Count * pitch, top);
            }
        }
        return (width, height, canvas);
    }

    private static void Blit(byte[] canvas, int canvasWidth, byte[] image, int size, int left, int top)
    {
        for (var row = 0; row < size; row++)
            image.AsSpan(row * size * 3, size * 3).CopyTo(canvas.AsSpan(((top + row) * canvasWidth + left) * 3));
    }

    /// <summary>A 3 × 5 pixel font for lower-case labels.</summary>
    private static class Font
    {
        public const int Height = 5;
        public const int Advance = 4;

        // Five rows of three pixels per glyph, top row first ('#' = ink).
        private static readonly Dictionary<char, string> Glyphs = new()
        {
            ['a'] = ".#.#.#####.##.#", ['b'] = "##.#.###.#.###.", ['c'] = ".###..#..#...##", ['d'] = "##.#.##.##.###.",
            ['e'] = "####..##.#..###", ['f'] = "####..##.#..#..", ['g'] = ".###..#.##.#.##", ['h'] = "#.##.#####.##.#",
            ['i'] = "###.#..#..#.###", ['j'] = "..#..#..##.#.#.", ['k'] = "#.##.###.#.##.#", ['l'] = "#..#..#..#..###",
            ['m'] = "#.########.##.#", ['n'] = "##.#.##.##.##.#", ['o'] = ".#.#.##.##.#.#.", ['p'] = "##.#.###.#..#..",
            ['q'] = ".#.#.##.###..##", ['r'] = "##.#.###.#.##.#", ['s'] = ".###...#...###.", ['t'] = "###.#..#..#..#.",
            ['u'] = "#.##.##.##.####", ['v'] = "#.##.##.##.#.#.", ['w'] = "#.##.########.#", ['x'] = "#.##.#.#.#.##.#",
            ['y'] = "#.##.#.#..#..#.", ['z'] = "###..#.#.#..###", ['-'] = "......###......", [':'] = "....#.....#....",
            [','] = "..........#.#..", ['0'] = "####.##.##.####", ['1'] = ".#.##..#..#.###", ['2'] = "###..#####..###",
            ['3'] = "###..####..####", ['4'] = "#.##.####..#..#", ['5'] = "####..###..####", ['6'] = "####..####.####",
            ['7'] = "###..#..#..#..#", ['8'] = "####.#####.####", ['9'] = "####.####..####",
        };

        public static void Draw(byte[] canvas, int canvasWidth, int left, int top, string text, int scale, byte[] ink)
        {
            var canvasHeight = canvas.Length / 3 / canvasWidth;
            for (var c = 0; c < text.Length; c++)
            {
                if (!Glyphs.TryGetValue(text[c], out var glyph))
                    continue;
                for (var i = 0; i < glyph.Length && i < 15; i++)
                {
                    if (glyph[i] != '#')
                        continue;
                    var gx = i % 3;
                    var gy = i / 3;
                    for (var dy = 0; dy < scale; dy++)
                    {
                        for (var dx = 0; dx < scale; dx++)
                        {
                            var x = left + (c * Advance + gx) * scale + dx;
                            var y = top + gy * scale + dy;
                            if (x < canvasWidth && y < canvasHeight)
                                ink.CopyTo(canvas, (y * canvasWidth + x) * 3);
                        }
                    }
                }
            }
        }
    }
}
