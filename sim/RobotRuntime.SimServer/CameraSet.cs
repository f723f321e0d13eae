using RobotRuntime.Cameras;
using RobotRuntime.Sim.Tabletop;
using RobotRuntime.Vision.Cameras;

namespace RobotRuntime.SimServer;

/// <summary>
/// The simulated cameras as camera streams: each camera rendered at the frame deadline into a
/// pooled frame, held back by the sensor delay, withheld with the drop probability (its sequence
/// number still counts, so the receiver sees a gap), and published on its own PUB endpoint.
/// </summary>
/// <remarks>The environment's thread only. Allocates only in the constructor.</remarks>
internal sealed class CameraSet : IDisposable
{
    private readonly Camera[] _cameras;
    private readonly double _dropProbability;
    private readonly Random _random;

    public CameraSet(SimServerOptions options, Random random, IReadOnlyDictionary<string, PushCameraSource> localCameras)
    {
        _dropProbability = options.FrameDropProbability;
        _random = random;
        // Enough frames for everything in flight during the longest sensor delay, plus one being rendered.
        var inFlight = (int)Math.Ceiling((options.SensorDelay + options.SensorJitter).TotalSeconds * options.CameraRateHz) + 2;
        string[] endpoints = [options.FrontCameraEndpoint, options.WristCameraEndpoint];
        var cameras = new List<Camera>();
        try
        {
            for (var i = 0; i < TabletopScene.CameraNames.Count; i++)
                cameras.Add(new Camera(TabletopScene.CameraNames[i], endpoints[i], options, inFlight, random, localCameras.GetValueOrDefault(TabletopScene.CameraNames[i])));
        }
        catch
        {
            foreach (var camera in cameras)
                camera.Dispose();
            throw;
        }
        _cameras = [.. cameras];
        Endpoints = _cameras.ToDictionary(c => c.Name, c => c.Publisher.Endpoint);
    }

    /// <summary>Bound endpoint of each camera by name.</summary>
    public IReadOnlyDictionary<string, string> Endpoints { get; }

    /// <summary>Frames sent, all cameras.</summary>
    public long Published { get; private set; }

    /// <summary>Frames withheld on purpose (drop probability), all cameras.</summary>
    public long Dropped { get; private set; }

    /// <summary>When the next delayed frame falls due; <see cref="long.MaxValue"/> if none waits.</summary>
    public long NextDue
    {
        get
        {
            var due = long.MaxValue;
            foreach (var camera in _cameras)
                due = Math.Min(due, camera.Line.NextDue);
            return due;
        }
    }

    /// <summary>Renders every camera at <paramref name="nowNs"/> and queues the frames that are not dropped.</summary>
    public void Capture(TabletopEnvironment environment, long nowNs)
    {
        foreach (var camera in _cameras)
        {
            var index = camera.TakeFreeFrame();
            var frame = camera.Pool[index];
            environment.RenderCamera(camera.Name, frame.Width, frame.Height, frame.Pixels);
            frame.Sequence = ++camera.Sequence;
            frame.CaptureTimestampNs = nowNs;
            if (_dropProbability > 0 && _random.NextDouble() < _dropProbability)
            {
                Dropped++;
                camera.Free.Push(index);
                continue;
            }
            camera.Line.Enqueue(index, nowNs);
        }
    }

    /// <summary>Publishes every frame whose delay has passed.</summary>
    public void PublishDue(long nowNs)
    {
        foreach (var camera in _cameras)
        {
            while (camera.Line.TryDequeueDue(nowNs, out var index))
            {
                var frame = camera.Pool[index];
                if (camera.Publisher.Publish(frame))
                    Published++;
                camera.Local?.Push(frame.Pixels, frame.CaptureTimestampNs);
                camera.Free.Push(index);
            }
        }
    }

    public void Dispose()
    {
        foreach (var camera in _cameras)
            camera.Dispose();
    }

    private sealed class Camera : IDisposable
    {
        public Camera(string name, string endpoint, SimServerOptions options, int poolSize, Random random, PushCameraSource? local)
        {
            Name = name;
            Local = local;
            Pool = new CameraFrame[poolSize];
            Free = new Stack<int>(poolSize);
            for (var i = poolSize - 1; i >= 0; i--)
            {
                Pool[i] = new CameraFrame(options.CameraWidth, options.CameraHeight);
                Free.Push(i);
            }
            Line = new DelayLine<int>(poolSize, options.SensorDelay, options.SensorJitter, random);
            try
            {
                Publisher = new CameraFramePublisher(endpoint, options.CameraWidth, options.CameraHeight, options.CurveKeys);
            }
            catch (Exception error) when (error is Transport.Zmq.ZmqException)
            {
                var option = name == "front" ? "--camera-front" : "--camera-wrist";
                throw new ArgumentException($"{option}: cannot bind {endpoint}: {error.Message}", option, error);
            }
        }

        public string Name { get; }
        public CameraFrame[] Pool { get; }
        public Stack<int> Free { get; }
        public DelayLine<int> Line { get; }
        public CameraFramePublisher Publisher { get; }
        public PushCameraSource? Local { get; }
        public long Sequence;

        /// <summary>A free frame; if every frame is still in the delay line, the oldest waiting one is given up.</summary>
        public int TakeFreeFrame()
        {
            if (Free.Count > 0)
                return Free.Pop();
            Line.TryDequeue(out var oldest);
            return oldest;
        }

        public void Dispose() => Publisher?.Dispose();
    }
}
