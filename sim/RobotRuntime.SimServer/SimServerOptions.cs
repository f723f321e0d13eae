using System.Globalization;
using RobotRuntime.Sim.Shifts;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.SimServer;

/// <summary>
/// What <c>rr sim-server</c> simulates, where it binds, how fast it publishes and which faults it
/// injects. The defaults are the reference arm's loopback ports (5601–5603) and the camera stream's
/// (5610 front, 5611 wrist).
/// </summary>
public sealed record SimServerOptions
{
    /// <summary>The simulated arm (see <see cref="SimArm.Names"/>): toy4 or ur5e.</summary>
    public string Arm { get; init; } = "toy4";

    /// <summary>Task name: reach, push or peek.</summary>
    public string Task { get; init; } = "reach";

    /// <summary>Visual shift preset (see <see cref="VisualShifts.Names"/>).</summary>
    public string Shift { get; init; } = VisualShifts.InDistribution;

    /// <summary>Episode seed (scene reset and shift sampling); also seeds the injected jitter and frame drops.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>
    /// How the arm's channels reach the runtime: <see cref="RobotRuntime.SimServer.ArmTransport.Zmq"/> (the default) binds the
    /// three sockets below; <see cref="RobotRuntime.SimServer.ArmTransport.InProcess"/> binds none, and the server serves one
    /// in-process link (<see cref="SimServerHost.ConnectInProcess"/>) instead. The cameras are not affected.
    /// </summary>
    public ArmTransport ArmTransport { get; init; } = ArmTransport.Zmq;

    /// <summary>STATE publisher (PUB, bound). Default <c>tcp://127.0.0.1:5601</c>.</summary>
    public string StateEndpoint { get; init; } = "tcp://127.0.0.1:5601";

    /// <summary>COMMAND subscriber (SUB, bound). Default <c>tcp://127.0.0.1:5602</c>.</summary>
    public string CommandEndpoint { get; init; } = "tcp://127.0.0.1:5602";

    /// <summary>Control replier (REP, bound). Default <c>tcp://127.0.0.1:5603</c>.</summary>
    public string ControlEndpoint { get; init; } = "tcp://127.0.0.1:5603";

    /// <summary>Camera stream publisher of the "front" camera. Default <c>tcp://127.0.0.1:5610</c>.</summary>
    public string FrontCameraEndpoint { get; init; } = "tcp://127.0.0.1:5610";

    /// <summary>Camera stream publisher of the "wrist" camera. Default <c>tcp://127.0.0.1:5611</c>.</summary>
    public string WristCameraEndpoint { get; init; } = "tcp://127.0.0.1:5611";

    /// <summary>STATE publishing rate, Hz (1..2000). Default 250.</summary>
    public int StateRateHz { get; init; } = 250;

    /// <summary>Camera frame rate, Hz, each camera (0 turns the cameras off; at most 240). Default 30.</summary>
    public double CameraRateHz { get; init; } = 30;

    /// <summary>Camera frame width in pixels (16..512). Default 84.</summary>
    public int CameraWidth { get; init; } = 84;

    /// <summary>Camera frame height in pixels (16..512). Default 84.</summary>
    public int CameraHeight { get; init; } = 84;

    /// <summary>The arm holds when no valid COMMAND arrives for this long, ms (1..60000). Default 100.</summary>
    public int WatchdogMilliseconds { get; init; } = 100;

    /// <summary>Delay between sampling the simulation and publishing it (states and camera frames). Default 0.</summary>
    public TimeSpan SensorDelay { get; init; } = TimeSpan.Zero;

    /// <summary>Sensor delay varies uniformly within ± this (never below 0; order is kept). Default 0.</summary>
    public TimeSpan SensorJitter { get; init; } = TimeSpan.Zero;

    /// <summary>Delay between accepting a COMMAND and applying it to the simulation. Default 0.</summary>
    public TimeSpan ActuationDelay { get; init; } = TimeSpan.Zero;

    /// <summary>Actuation delay varies uniformly within ± this (never below 0; order is kept). Default 0.</summary>
    public TimeSpan ActuationJitter { get; init; } = TimeSpan.Zero;

    /// <summary>Probability (0..1) that a rendered camera frame is not published (a gap in its sequence numbers). Default 0.</summary>
    public double FrameDropProbability { get; init; }

    /// <summary>No log lines on the log writer except the ready line and errors.</summary>
    public bool Quiet { get; init; }

    /// <summary>
    /// The secret shared with the operator's runtime (protocol version 2, 32 bytes): only the controller
    /// that claims the arm with it may command, enable, disable or reset it. Null: the server makes a
    /// random one, reachable only in this process through <see cref="SimServerEndpoints.LinkSettings"/>.
    /// </summary>
    public byte[]? Secret { get; init; }

    /// <summary>The arm's CURVE key pair: its state, command and control sockets are CURVE servers (encrypted; a runtime needs the public key). Null: plain ZeroMQ.</summary>
    public Transport.Zmq.CurveKeyPair? CurveKeys { get; init; }

    /// <summary>A claim lapses after this long without a valid authenticated frame from its holder (then another controller may claim). Default 2000 ms.</summary>
    public int ClaimLeaseMilliseconds { get; init; } = 2000;

    /// <summary>Largest delay or jitter accepted.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(5);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first option that is not usable and what is valid.</summary>
    public void Validate()
    {
        if (!SimArm.Names.Contains(Arm))
            throw new ArgumentException($"--arm: unknown arm '{Arm}'; expected one of {string.Join(", ", SimArm.Names)}", nameof(Arm));
        if (!TabletopTask.Names.Contains(Task))
            throw new ArgumentException($"--task: unknown task '{Task}'; expected one of {string.Join(", ", TabletopTask.Names)}", nameof(Task));
        if (!VisualShifts.Names.Contains(Shift))
            throw new ArgumentException($"--shift: unknown visual shift '{Shift}'; expected one of {string.Join(", ", VisualShifts.Names)}", nameof(Shift));
        if (!Enum.IsDefined(ArmTransport))
            throw new ArgumentException($"{nameof(ArmTransport)}: {(int)ArmTransport} is not a transport; expected {string.Join(" or ", Enum.GetNames<ArmTransport>())}", nameof(ArmTransport));
        if (ArmTransport == ArmTransport.Zmq)
        {
            CheckEndpoint("--state", StateEndpoint);
            CheckEndpoint("--command", CommandEndpoint);
            CheckEndpoint("--control", ControlEndpoint);
        }
        CheckEndpoint("--camera-front", FrontCameraEndpoint);
        CheckEndpoint("--camera-wrist", WristCameraEndpoint);
        if (StateRateHz is < 1 or > 2000)
            throw new ArgumentException($"--state-rate must be 1..2000 Hz, got {StateRateHz}", nameof(StateRateHz));
        if (!(CameraRateHz >= 0 && CameraRateHz <= 240))
            throw new ArgumentException($"--camera-rate must be 0 (no cameras) to 240 Hz, got {CameraRateHz}", nameof(CameraRateHz));
        if (CameraWidth is < 16 or > 512 || CameraHeight is < 16 or > 512)
            throw new ArgumentException($"--camera-size must be 16..512 pixels on each side, got {CameraWidth}x{CameraHeight}", nameof(CameraWidth));
        if (WatchdogMilliseconds is < 1 or > 60000)
            throw new ArgumentException($"--watchdog must be 1..60000 ms, got {WatchdogMilliseconds}", nameof(WatchdogMilliseconds));
        CheckDelay("--delay", SensorDelay);
        CheckDelay("--jitter", SensorJitter);
        CheckDelay("--actuation-delay", ActuationDelay);
        CheckDelay("--actuation-jitter", ActuationJitter);
        if (Secret is { Length: not 32 })
            throw new ArgumentException($"--key: the arm's secret must be 32 bytes (protocol version 2), got {Secret.Length}", nameof(Secret));
        if (ClaimLeaseMilliseconds is < 1 or > 600000)
            throw new ArgumentException($"--claim-lease must be 1..600000 ms, got {ClaimLeaseMilliseconds}", nameof(ClaimLeaseMilliseconds));
        if (!(FrameDropProbability >= 0 && FrameDropProbability <= 1))
            throw new ArgumentException($"--frame-drop must be a probability from 0 to 1, got {FrameDropProbability.ToString(CultureInfo.InvariantCulture)}", nameof(FrameDropProbability));
    }

    private static void CheckEndpoint(string option, string value)
    {
        if (string.IsNullOrWhiteSpace(value) || !(value.StartsWith("tcp://", StringComparison.Ordinal)
            || value.StartsWith("ipc://", StringComparison.Ordinal) || value.StartsWith("inproc://", StringComparison.Ordinal))
            || value.EndsWith("://", StringComparison.Ordinal))
            throw new ArgumentException(
                $"{option} must be a ZeroMQ endpoint: tcp://HOST:PORT (e.g. tcp://127.0.0.1:5601, port * for any free one), ipc://PATH or inproc://NAME; got '{value}'", option);
    }

    private static void CheckDelay(string option, TimeSpan value)
    {
        if (value < TimeSpan.Zero || value > MaxDelay)
            throw new ArgumentException($"{option} must be 0 to {MaxDelay.TotalSeconds:0} s, got {value.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms", option);
    }
}
