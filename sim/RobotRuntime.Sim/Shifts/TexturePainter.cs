namespace RobotRuntime.Sim.Shifts;

/// <summary>A colour with channels in 0..1.</summary>
/// <param name="R">Red.</param>
/// <param name="G">Green.</param>
/// <param name="B">Blue.</param>
public readonly record struct Colour(float R, float G, float B)
{
    /// <summary>A uniformly random colour.</summary>
    public static Colour Random(Random random) => new((float)random.NextDouble(), (float)random.NextDouble(), (float)random.NextDouble());

    /// <summary>This colour with each channel moved by up to ±<paramref name="amount"/>, clamped to 0..1.</summary>
    public Colour Jitter(Random random, double amount) => new(
        Math.Clamp(R + (float)(amount * (2 * random.NextDouble() - 1)), 0, 1),
        Math.Clamp(G + (float)(amount * (2 * random.NextDouble() - 1)), 0, 1),
        Math.Clamp(B + (float)(amount * (2 * random.NextDouble() - 1)), 0, 1));

    /// <summary>(1 − t)·this + t·other.</summary>
    public Colour Mix(Colour other, float t) => new(R + (other.R - R) * t, G + (other.G - G) * t, B + (other.B - B) * t);

    /// <summary>Largest channel difference.</summary>
    public float Contrast(Colour other) => Math.Max(Math.Abs(R - other.R), Math.Max(Math.Abs(G - other.G), Math.Abs(B - other.B)));
}

/// <summary>Procedural texture patterns for shifts.</summary>
public enum TexturePattern
{
    /// <summary>Squares of two colours.</summary>
    Checker,
    /// <summary>Smooth value noise between two colours.</summary>
    Noise,
    /// <summary>Parallel stripes at a random angle.</summary>
    Stripes,
    /// <summary>A linear blend along a random direction.</summary>
    Gradient,
}

/// <summary>Fills RGB texture buffers with seeded procedural patterns.</summary>
public static class TexturePainter
{
    /// <summary>Paints <paramref name="pattern"/> in colours <paramref name="first"/> and <paramref name="second"/> into a width × height × 3 RGB buffer.</summary>
    /// <remarks>Deterministic: the same <paramref name="random"/> state gives the same pixels.</remarks>
    public static void Paint(Span<byte> rgb, int width, int height, TexturePattern pattern, Colour first, Colour second, Random random)
    {
        var angle = random.NextDouble() * Math.PI;
        var (cos, sin) = (Math.Cos(angle), Math.Sin(angle));
        var cellSize = Math.Max(1, width / (3 + random.Next(8)));
        var period = 4 + random.Next(12);
        const int Grid = 6;
        var noise = new double[(Grid + 1) * (Grid + 1)];
        for (var i = 0; i < noise.Length; i++)
            noise[i] = random.NextDouble();
        var diagonal = Math.Sqrt((double)width * width + (double)height * height);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                double t;
                switch (pattern)
                {
                    case TexturePattern.Checker:
                        t = ((x / cellSize) + (y / cellSize)) % 2;
                        break;
                    case TexturePattern.Stripes:
                        t = ((int)Math.Floor((x * cos + y * sin) / period) & 1);
                        break;
                    case TexturePattern.Gradient:
                        t = Math.Clamp(0.5 + (x - width / 2.0) * cos / diagonal + (y - height / 2.0) * sin / diagonal, 0, 1);
                        break;
                    default:
                        var gx = (double)x / width * Grid;
                        var gy = (double)y / height * Grid;
                        int ix = (int)gx, iy = (int)gy;
                        double fx = gx - ix, fy = gy - iy;
                        double Sample(int cx, int cy) => noise[cy * (Grid + 1) + cx];
                        var top = Sample(ix, iy) * (1 - fx) + Sample(ix + 1, iy) * fx;
                        var bottom = Sample(ix, iy + 1) * (1 - fx) + Sample(ix + 1, iy + 1) * fx;
                        t = top * (1 - fy) + bottom * fy;
                        break;
                }
                var colour = first.Mix(second, (float)t);
                var i = (y * width + x) * 3;
                rgb[i] = (byte)Math.Round(255 * colour.R);
                rgb[i + 1] = (byte)Math.Round(255 * colour.G);
                rgb[i + 2] = (byte)Math.Round(255 * colour.B);
            }
        }
    }
}
