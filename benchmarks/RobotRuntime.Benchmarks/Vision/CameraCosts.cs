using System.Diagnostics;
using System.Globalization;
using RobotRuntime.Imaging;
using RobotRuntime.Telemetry;

namespace RobotRuntime.Benchmarks.Vision;

/// <summary>
/// What issue 17's additions cost per frame or per cycle, in one process: undistorting a frame
/// (remap with precomputed maps) at 64, 112 and 224 px, and the control loop's copy of a cycle record
/// into the metrics ring. Medians over interleaved rounds, with bytes allocated per operation.
/// Usage: camera-costs [iterations]
/// </summary>
public static class CameraCosts
{
    public const string Verb = "camera-costs";

    public static int Run(string[] args)
    {
        var iterations = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2000;
        foreach (var size in new[] { 64, 112, 224 })
        {
            var calibration = new CameraCalibration
            {
                Width = size, Height = size, Fx = size * 0.9, Fy = size * 0.9, Cx = size / 2.0, Cy = size / 2.0, Distortion = [-0.2, 0.05, 0, 0, 0],
            };
            using var undistorter = new Undistorter(calibration);
            new Random(1).NextBytes(undistorter.SourceBuffer);
            Report($"undistort {size}x{size}", iterations, undistorter.Apply);
        }
        var ring = new CycleRecordRing(4096);
        var record = new CycleRecord { CycleIndex = 1, PlanNs = 1000 };
        Report("metrics ring write + read", iterations * 10, () =>
        {
            ring.TryWrite(in record);
            ring.TryRead(out _);
        });
        return 0;
    }

    private static void Report(string what, int iterations, Action operation)
    {
        for (var i = 0; i < 200; i++)
            operation();
        var samples = new double[iterations];
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            operation();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        var allocated = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)iterations;
        Array.Sort(samples);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"what\": \"{what}\", \"iterations\": {iterations}, \"median_us\": {samples[iterations / 2]:F3}, \"p99_us\": {samples[(int)(iterations * 0.99)]:F3}, \"bytes_per_op\": {allocated:F1}}}"));
    }
}
