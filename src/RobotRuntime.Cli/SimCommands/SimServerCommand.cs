using System.CommandLine;
using System.Runtime.InteropServices;
using RobotRuntime.Native;
using RobotRuntime.Sim;
using RobotRuntime.Sim.Shifts;
using RobotRuntime.Sim.Tabletop;
using RobotRuntime.SimServer;

namespace RobotRuntime.Cli.SimCommands;

/// <summary><c>rr sim-server</c>: the simulator as its own process, indistinguishable from an arm on the wire.</summary>
public static class SimServerCommand
{
    /// <summary>Builds the <c>sim-server</c> verb.</summary>
    public static Command Create()
    {
        var defaults = new SimServerOptions();
        var arm = new Option<string>("--arm") { Description = $"The simulated arm: {string.Join(", ", SimArm.Names)} (ur5e: 6 joints, UR5e-class limits, joint-position commands only).", DefaultValueFactory = _ => defaults.Arm };
        var task = new Option<string>("--task") { Description = $"Task: {string.Join(", ", TabletopTask.Names)}.", DefaultValueFactory = _ => defaults.Task };
        var shift = new Option<string>("--shift") { Description = $"Visual shift preset: {string.Join(", ", VisualShifts.Names)}.", DefaultValueFactory = _ => defaults.Shift };
        var seed = new Option<int>("--seed") { Description = "Episode seed (scene, shift, injected jitter and drops).", DefaultValueFactory = _ => defaults.Seed };
        var state = new Option<string>("--state") { Description = "STATE publisher endpoint (PUB, bound).", DefaultValueFactory = _ => defaults.StateEndpoint };
        var command = new Option<string>("--command") { Description = "COMMAND subscriber endpoint (SUB, bound).", DefaultValueFactory = _ => defaults.CommandEndpoint };
        var control = new Option<string>("--control") { Description = "Control endpoint (REP, bound).", DefaultValueFactory = _ => defaults.ControlEndpoint };
        var front = new Option<string>("--camera-front") { Description = "Front camera stream endpoint (PUB, bound).", DefaultValueFactory = _ => defaults.FrontCameraEndpoint };
        var wrist = new Option<string>("--camera-wrist") { Description = "Wrist camera stream endpoint (PUB, bound).", DefaultValueFactory = _ => defaults.WristCameraEndpoint };
        var stateRate = new Option<int>("--state-rate") { Description = "STATE rate, Hz (1..2000).", DefaultValueFactory = _ => defaults.StateRateHz };
        var cameraRate = new Option<double>("--camera-rate") { Description = "Frames per second per camera (0: no cameras).", DefaultValueFactory = _ => defaults.CameraRateHz };
        var cameraSize = new Option<string>("--camera-size") { Description = "Frame size: N or WxH pixels (16..512).", DefaultValueFactory = _ => $"{defaults.CameraWidth}" };
        var watchdog = new Option<string>("--watchdog") { Description = "Hold when no valid command arrives within this (e.g. 100ms).", DefaultValueFactory = _ => $"{defaults.WatchdogMilliseconds}ms" };
        var delay = new Option<string>("--delay") { Description = "Sensor delay: states and frames are published this long after sampling (e.g. 15ms).", DefaultValueFactory = _ => "0ms" };
        var jitter = new Option<string>("--jitter") { Description = "Sensor delay varies uniformly within ± this.", DefaultValueFactory = _ => "0ms" };
        var actuationDelay = new Option<string>("--actuation-delay") { Description = "Commands are applied this long after they arrive.", DefaultValueFactory = _ => "0ms" };
        var actuationJitter = new Option<string>("--actuation-jitter") { Description = "Actuation delay varies uniformly within ± this.", DefaultValueFactory = _ => "0ms" };
        var frameDrop = new Option<double>("--frame-drop") { Description = "Probability (0..1) that a camera frame is not published (seeded).", DefaultValueFactory = _ => 0 };
        var quiet = new Option<bool>("--quiet") { Description = "Log only the ready line and errors." };
        var key = new Option<string?>("--key") { Description = $"The secret shared with the operator's rr run (protocol version 2): only the controller holding it may command the arm. Default {Transport.Firmware.ArmKeyFile.DefaultPath}, made (mode 600) if it is not there." };
        var curveKeys = new Option<string?>("--curve-keys") { Description = "A CURVE key pair file (rr keygen --curve): the arm's sockets encrypt, and a runtime needs its public key (arm.curve_public_key). For an arm reached over a network." };
        var claimLease = new Option<string>("--claim-lease") { Description = "A controller's claim lapses after this long without a valid frame from it (then another may claim the arm).", DefaultValueFactory = _ => "2000ms" };

        var verb = new Command("sim-server",
            "Run the MuJoCo simulator as an arm: firmware protocol over ZeroMQ (state, commands, control) and one camera stream per camera. Ctrl-C stops it.")
        {
            arm, task, shift, seed, state, command, control, front, wrist, stateRate, cameraRate, cameraSize, watchdog,
            delay, jitter, actuationDelay, actuationJitter, frameDrop, quiet, key, claimLease, curveKeys,
        };
        verb.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            try
            {
                var (width, height) = RobotRuntime.Timing.SettingText.ParseSize("--camera-size", result.GetValue(cameraSize)!);
                var watchdogTime = RobotRuntime.Timing.SettingText.ParseDuration("--watchdog", result.GetValue(watchdog)!);
                var leaseTime = RobotRuntime.Timing.SettingText.ParseDuration("--claim-lease", result.GetValue(claimLease)!);
                var keyPath = result.GetValue(key) ?? Transport.Firmware.ArmKeyFile.DefaultPath;
                byte[] secret;
                try
                {
                    var created = false;
                    secret = result.GetValue(key) is null
                        ? Transport.Firmware.ArmKeyFile.ReadOrCreate(keyPath, out created)
                        : Transport.Firmware.ArmKeyFile.Read(keyPath);
                    if (created)
                        error.WriteLine($"rr sim-server: made a new arm key {keyPath} (mode 600); rr run on this machine finds it there (arm.key)");
                }
                catch (InvalidDataException e)
                {
                    throw new ArgumentException("--key: " + e.Message);
                }
                Transport.Zmq.CurveKeyPair? curve = null;
                if (result.GetValue(curveKeys) is { } curvePath)
                {
                    try
                    {
                        curve = Transport.Zmq.CurveKeyPair.Load(curvePath);
                    }
                    catch (Exception e) when (e is InvalidDataException or IOException)
                    {
                        throw new ArgumentException("--curve-keys: " + e.Message);
                    }
                    error.WriteLine($"rr sim-server: CURVE on; the arm's public key is {curve.PublicKey}");
                }
                var options = new SimServerOptions
                {
                    CurveKeys = curve,
                    Arm = result.GetValue(arm)!,
                    Task = result.GetValue(task)!,
                    Shift = result.GetValue(shift)!,
                    Seed = result.GetValue(seed),
                    StateEndpoint = result.GetValue(state)!,
                    CommandEndpoint = result.GetValue(command)!,
                    ControlEndpoint = result.GetValue(control)!,
                    FrontCameraEndpoint = result.GetValue(front)!,
                    WristCameraEndpoint = result.GetValue(wrist)!,
                    StateRateHz = result.GetValue(stateRate),
                    CameraRateHz = result.GetValue(cameraRate),
                    CameraWidth = width,
                    CameraHeight = height,
                    WatchdogMilliseconds = (int)Math.Round(watchdogTime.TotalMilliseconds),
                    SensorDelay = RobotRuntime.Timing.SettingText.ParseDuration("--delay", result.GetValue(delay)!),
                    SensorJitter = RobotRuntime.Timing.SettingText.ParseDuration("--jitter", result.GetValue(jitter)!),
                    ActuationDelay = RobotRuntime.Timing.SettingText.ParseDuration("--actuation-delay", result.GetValue(actuationDelay)!),
                    ActuationJitter = RobotRuntime.Timing.SettingText.ParseDuration("--actuation-jitter", result.GetValue(actuationJitter)!),
                    FrameDropProbability = result.GetValue(frameDrop),
                    Quiet = result.GetValue(quiet),
                    Secret = secret,
                    ClaimLeaseMilliseconds = (int)Math.Round(leaseTime.TotalMilliseconds),
                };
                var server = new SimServer.SimServer(options, output, error);
                using var stop = new CancellationTokenSource();
                // Ctrl-C and SIGTERM end the loop; the sockets and the GL context close on this thread.
                using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
                using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
                server.Run(stop.Token);
                return 0;

                void Cancel(PosixSignalContext context)
                {
                    context.Cancel = true;
                    stop.Cancel();
                }
            }
            catch (ArgumentException failure)
            {
                // The message names the option already; drop .NET's "(Parameter '...')" suffix.
                var text = failure.ParamName is null ? failure.Message : failure.Message.Replace($" (Parameter '{failure.ParamName}')", "", StringComparison.Ordinal);
                error.WriteLine($"rr sim-server: {text}");
                return 2;
            }
            catch (Exception failure) when (failure is SimulatorException or NativeDependencyMissingException)
            {
                error.WriteLine($"rr sim-server: {failure.Message}");
                return 1;
            }
        });
        return verb;
    }
}
