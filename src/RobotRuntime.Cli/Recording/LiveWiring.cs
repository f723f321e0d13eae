using RobotRuntime.Live;
using RobotRuntime.Native;
using RobotRuntime.Telemetry;
using RobotRuntime.Vision.OpenCv;

namespace RobotRuntime.Cli.Recording;

/// <summary>Starts the live page for <c>rr record</c> and <c>rr replay</c>, which show camera frames without a control loop.</summary>
internal static class LiveWiring
{
    /// <summary>A board for cameras of one size, or an error naming the sizes when they differ.</summary>
    public static LiveStatusBoard Board(IReadOnlyList<string> cameras, IReadOnlyList<(int Width, int Height)> sizes, double rateHz, string what)
    {
        if (sizes.Distinct().Count() > 1)
            throw new ArgumentException($"--live-port shows all cameras at one size, but they differ ({string.Join(", ", cameras.Select((c, i) => $"{c} {sizes[i].Width}x{sizes[i].Height}"))}); give --size.");
        return new LiveStatusBoard(cameras, sizes[0].Width, sizes[0].Height, rateHz, what);
    }

    /// <summary>Starts the page on <paramref name="port"/> and says where it is.</summary>
    public static LivePageServer Start(LiveStatusBoard board, int port, string title, TextWriter output)
    {
        var server = LivePageServer.Start(board, new LivePageOptions { Port = port, Title = title, CreateFrameEncoder = JpegFrames.FactoryOrNull(output) });
        output.WriteLine($"live page: {server.Url}");
        output.Flush();
        return server;
    }
}

/// <summary>
/// The live page's camera images as JPEG through OpenCV (the Vision shim): about a tenth of the
/// managed PNG encoder's time and a fraction of its size (benchmarks/RESULTS.md, "Live page").
/// </summary>
internal sealed class JpegFrames : ILiveFrameEncoder
{
    private const int Quality = 80;
    private JpegEncoder? _encoder;

    public string ContentType => "image/jpeg";

    public byte[] Encode(ReadOnlySpan<byte> rgb, int width, int height)
    {
        _encoder ??= new JpegEncoder(width, height, Quality);
        return _encoder.Encode(rgb, width, height).ToArray();
    }

    /// <summary>A factory of JPEG encoders if OpenCV's shim loads; otherwise null (the page falls back to PNG) and a note.</summary>
    public static Func<ILiveFrameEncoder>? FactoryOrNull(TextWriter output)
    {
        try
        {
            new JpegFrames().Encode(new byte[8 * 8 * 3], 8, 8);
            return () => new JpegFrames();
        }
        catch (NativeDependencyMissingException missing)
        {
            output.WriteLine($"live page: camera images as PNG (JPEG needs OpenCV's shim: {missing.Message.Split('\n')[0]})");
            return null;
        }
    }
}
