using BenchmarkDotNet.Attributes;
using RobotRuntime.Cameras;
using RobotRuntime.Live;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;

namespace RobotRuntime.Benchmarks.Live;

/// <summary>A camera-like test image: smooth gradients with seeded sensor noise (±8), so neither encoder gets an easy flat picture.</summary>
internal static class LiveTestImage
{
    public static byte[] Rgb(int width, int height)
    {
        var random = new Random(7);
        var rgb = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var at = (y * width + x) * 3;
                rgb[at] = (byte)Math.Clamp(x * 255 / width + random.Next(-8, 9), 0, 255);
                rgb[at + 1] = (byte)Math.Clamp(y * 255 / height + random.Next(-8, 9), 0, 255);
                rgb[at + 2] = (byte)Math.Clamp(128 + (int)(60 * Math.Sin((x + y) / 9.0)) + random.Next(-8, 9), 0, 255);
            }
        return rgb;
    }
}

/// <summary>
/// What one camera image on the live page costs the server: its JPEG (quality 80) beside a PNG at
/// the fastest level, both through OpenCV (OpenCvSharp4).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
public class LivePageFrameBenchmarks
{
    private byte[] _rgb = [];
    private JpegFrameEncoder _jpeg = null!;

    [Params(112, 224)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _rgb = LiveTestImage.Rgb(Size, Size);
        _jpeg = new JpegFrameEncoder(quality: 80);
    }

    [Benchmark(Baseline = true)]
    public int JpegOpenCv() => _jpeg.Encode(_rgb, Size, Size).Length;

    [Benchmark]
    public int PngOpenCv() => RobotRuntime.Imaging.ImageCodecs.EncodePng(_rgb, Size, Size).Length;
}

/// <summary>
/// What the live page costs the control loop's thread (publishing a cycle, a 224 px frame) and
/// the server's thread (formatting one status update).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
public class LivePageBoardBenchmarks
{
    private readonly LiveStatusBoard _board = new(["front", "wrist"], 224, 224, 100, "scripted");
    private readonly CameraFrame _frame = new(224, 224);
    private readonly LivePageOptions _options = new();
    private CycleRecord _record;

    [GlobalSetup]
    public void Setup()
    {
        LiveTestImage.Rgb(224, 224).CopyTo(_frame.Pixels, 0);
        _record = new CycleRecord { CycleIndex = 1, PlanNs = 1_234_567, EncodeNs = 2_345_678, EndNs = 5_000_000 };
        _board.PublishCycle(_record, true, HoldReason.StaleCameraFrame, "camera 'wrist': newest frame is 412 ms old", 0);
    }

    [Benchmark]
    public void PublishCycle() => _board.PublishCycle(_record, false, HoldReason.None, "", 1);

    [Benchmark]
    public void PublishFrame224() => _board.PublishFrame(0, _frame);

    [Benchmark]
    public int FormatStatusUpdate() => LiveSnapshotJson.Format(_board, _options, 2).Length;
}
