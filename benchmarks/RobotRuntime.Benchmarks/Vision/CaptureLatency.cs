using System.Globalization;
using RobotRuntime.Cameras;
using RobotRuntime.SimServer;
using RobotRuntime.Timing;
using RobotRuntime.Vision.Cameras;
using RobotRuntime.Vision.Encoders;
using RobotRuntime.Vision.Preprocessing;
using RobotRuntime.Vision.Recording;

namespace RobotRuntime.Benchmarks.Vision;

/// <summary>
/// Capture → embedding latency: how old a frame is when its embedding is ready, for a video file
/// camera, for the ZeroMQ frame stream fed by a synthetic publisher and for rr sim-server's
/// rendered stream (in this process), with an ONNX PVR in the path. A 30 Hz source, the
/// newest frame taken every cycle with <c>Read</c>, then encoded.
/// Usage: capture-latency &lt;model.onnx&gt; &lt;size&gt; &lt;frames&gt;
/// </summary>
public static class CaptureLatency
{
    public static int Run(string[] args)
    {
        var path = args[1];
        var size = int.Parse(args[2], CultureInfo.InvariantCulture);
        var frames = int.Parse(args[3], CultureInfo.InvariantCulture);
        var folder = Path.Combine(Path.GetTempPath(), "rr-capture-latency-" + Environment.ProcessId);
        try
        {
            // A recording of synthetic frames to play back as a video file.
            using (var synthetic = new SyntheticCameraSource("clip", size, size, fps: 1000))
            using (var recorder = new CameraRecorder(folder, "clip", size, size, framesPerSecond: 30))
            {
                synthetic.Start();
                var frame = new CameraFrame(size, size);
                for (var i = 0; i < frames + 20; i++)
                {
                    synthetic.Read(frame, TimeSpan.FromSeconds(5));
                    recorder.Write(frame);
                }
            }
            using var encoder = Encoder(path, size);
            using var file = new OpenCvCameraSource("file", OpenCvInput.File, Recordings.VideoPath(folder, "clip"), size, size, fps: 30, loop: true);
            Report("file", Measure(file, encoder, frames), encoder);

            using var publisher = new CameraFramePublisher("tcp://127.0.0.1:*", size, size);
            using var stream = new ZmqCameraSource("stream", publisher.Endpoint, size, size);
            var running = true;
            var feeder = new Thread(() =>
            {
                using var source = new SyntheticCameraSource("sim", size, size, fps: 30);
                source.Start();
                var frame = new CameraFrame(size, size);
                while (Volatile.Read(ref running))
                    if (source.Read(frame, TimeSpan.FromSeconds(1)) == CameraReadStatus.Ok)
                        publisher.Publish(frame);
            }) { IsBackground = true };
            feeder.Start();
            Report("stream", Measure(stream, encoder, frames), encoder);
            Volatile.Write(ref running, false);
            feeder.Join();

            // The real thing: sim-server rendering the tabletop's front camera with MuJoCo and
            // publishing it at 30 Hz, the runtime's ZmqCameraSource on the other end. It renders after
            // OpenCV has loaded libGLX into this process (the shim makes MuJoCo pick OSMesa regardless).
            using (var server = SimServerHost.Start(new SimServerOptions
            {
                StateEndpoint = "tcp://127.0.0.1:*", CommandEndpoint = "tcp://127.0.0.1:*", ControlEndpoint = "tcp://127.0.0.1:*",
                FrontCameraEndpoint = "tcp://127.0.0.1:*", WristCameraEndpoint = "tcp://127.0.0.1:*",
                CameraRateHz = 30, CameraWidth = size, CameraHeight = size, Quiet = true,
            }))
            using (var rendered = new ZmqCameraSource("sim-server", server.Endpoints.Cameras["front"], size, size))
                Report("sim-server", Measure(rendered, encoder, frames), encoder);
            return 0;
        }
        finally
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }

    private static OnnxPvrEncoder Encoder(string path, int size)
    {
        var model = new PvrModel
        {
            Id = Path.GetFileNameWithoutExtension(path), Description = "benchmark", File = path, InputName = "pixels",
            Preprocess = new PreprocessSpec { Height = size, Width = size, Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f] },
            OutputName = "features", Selector = EmbeddingSelector.Flatten, EmbeddingSize = 128 * (size / 8) * (size / 8),
            Licence = "-", Source = "-", Export = "-",
        };
        return new OnnxPvrEncoder(model, path, 1, size, size, new RobotRuntime.Onnx.OnnxSessionSettings { IntraOpThreads = 1 });
    }

    private static List<double> Measure(ICameraSource camera, OnnxPvrEncoder encoder, int count)
    {
        camera.Start();
        CameraFrame[] frames = [new CameraFrame(camera.Width, camera.Height)];
        var embedding = new float[encoder.EmbeddingSize];
        var latencies = new List<double>(count);
        for (var i = 0; i < count + 10; i++)
        {
            if (camera.Read(frames[0], TimeSpan.FromSeconds(5)) != CameraReadStatus.Ok)
                throw new InvalidOperationException($"camera {camera.Name}: {camera.Health.Reason}");
            encoder.Encode(frames, embedding);
            if (i >= 10)
                latencies.Add((MonotonicClock.NowNanoseconds - frames[0].CaptureTimestampNs) / 1e6);
        }
        return latencies;
    }

    private static void Report(string source, List<double> latencies, OnnxPvrEncoder encoder)
    {
        latencies.Sort();
        double At(double q) => latencies[Math.Min(latencies.Count - 1, (int)(q * latencies.Count))];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"source\": \"{source}\", \"model\": \"{encoder.Name}\", \"frames\": {latencies.Count}, " +
            $"\"capture_to_embedding_ms\": {{\"median\": {At(0.5):F3}, \"p99\": {At(0.99):F3}, \"max\": {latencies[^1]:F3}}}}}"));
    }
}
