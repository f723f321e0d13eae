using System.Diagnostics;
using System.Globalization;
using RobotRuntime.SimServer;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Benchmarks.Simulator;

/// <summary>
/// sim-server's STATE rate achieved against the rate configured, with both cameras streaming: the
/// server runs in this process on its own thread; a SUB without CONFLATE (so no frame is skipped)
/// counts every state that arrives and the gaps between them.
/// Usage: sim-server-rate [seconds per run] [repeats] [camera size] [camera rate] [rate ...]
/// </summary>
public static class SimServerRate
{
    public const string Verb = "sim-server-rate";

    public static int Run(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        var repeats = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var size = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 84;
        var cameraRate = args.Length > 3 ? double.Parse(args[3], CultureInfo.InvariantCulture) : 30;
        int[] rates = args.Length > 4 ? args[4..].Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [100, 250, 500, 1000];
        Console.WriteLine($"sim-server-rate: {seconds} s per run, {repeats} runs per rate, both cameras {size}x{size} at {cameraRate} Hz");
        Console.WriteLine("configured_hz,run,received_hz,published_hz,gap_median_ms,gap_p99_ms,gap_max_ms,frames_hz,deadlines_missed,physics_steps_skipped");
        foreach (var rate in rates)
        {
            for (var run = 0; run < repeats; run++)
                Measure(rate, run, seconds, size, cameraRate);
        }
        return 0;
    }

    private static void Measure(int rate, int run, double seconds, int size, double cameraRate)
    {
        var options = new SimServerOptions
        {
            Task = "push",
            StateEndpoint = "tcp://127.0.0.1:*",
            CommandEndpoint = "tcp://127.0.0.1:*",
            ControlEndpoint = "tcp://127.0.0.1:*",
            FrontCameraEndpoint = "tcp://127.0.0.1:*",
            WristCameraEndpoint = "tcp://127.0.0.1:*",
            StateRateHz = rate,
            CameraRateHz = cameraRate,
            CameraWidth = size,
            CameraHeight = size,
        };
        using var host = SimServerHost.Start(options);
        using var context = ZmqContext.Create();
        using var socket = ZmqSocket.Create(context, ZmqSocketType.Subscriber);
        socket.Subscribe([]);
        socket.Connect(host.Endpoints.State);
        using var message = new ZmqMessage();
        // Warm up: connection made, JIT done, the first frames rendered.
        var warm = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 2;
        while (Stopwatch.GetTimestamp() < warm)
        {
            if (socket.WaitReadable(50))
                socket.TryReceive(message);
        }
        var before = host.Server.Statistics;
        var arrivals = new List<long>((int)(rate * seconds * 1.2) + 16);
        var start = Stopwatch.GetTimestamp();
        var end = start + (long)(seconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < end)
        {
            if (!socket.WaitReadable(10))
                continue;
            while (socket.TryReceive(message) == ZmqReceiveStatus.Received)
            {
                if (FirmwareCodec.DecodeState(message.Data, out _, out _) == FrameStatus.Ok)
                    arrivals.Add(Stopwatch.GetTimestamp());
            }
        }
        var elapsed = (double)(Stopwatch.GetTimestamp() - start) / Stopwatch.Frequency;
        var after = host.Server.Statistics;
        var gaps = new List<double>(arrivals.Count);
        for (var i = 1; i < arrivals.Count; i++)
            gaps.Add((arrivals[i] - arrivals[i - 1]) * 1000.0 / Stopwatch.Frequency);
        gaps.Sort();
        double Percentile(double p) => gaps.Count == 0 ? double.NaN : gaps[Math.Min(gaps.Count - 1, (int)(p * gaps.Count))];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{rate},{run},{arrivals.Count / elapsed:0.0},{(after.StatesPublished - before.StatesPublished) / elapsed:0.0}," +
            $"{Percentile(0.5):0.000},{Percentile(0.99):0.000},{(gaps.Count > 0 ? gaps[^1] : double.NaN):0.000}," +
            $"{(after.FramesPublished - before.FramesPublished) / elapsed / 2:0.0},{after.StateDeadlinesMissed - before.StateDeadlinesMissed},{after.PhysicsStepsSkipped - before.PhysicsStepsSkipped}"));
    }
}
