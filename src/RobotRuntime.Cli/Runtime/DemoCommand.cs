using System.CommandLine;
using System.Globalization;
using RobotRuntime.Arm;
using RobotRuntime.Native;
using RobotRuntime.Safety;
using RobotRuntime.SimServer;

namespace RobotRuntime.Cli.Runtime;

/// <summary>
/// <c>rr demo</c>: the README's main job. Starts the simulator in this process as an arm behind the
/// firmware protocol on loopback ports, and runs the same runtime as <c>rr run</c> against it: the
/// simulator's two cameras, a project-made ONNX encoder, the scripted reach controller, the safety
/// layer, the run log. Each episode ends on the simulator's success (or a timeout); RESET starts
/// the next. Ends with the episodes, the latency summary and the plots.
/// </summary>
public static class DemoCommand
{
    /// <summary>The folder under models/agents of the agent the demo drives by default.</summary>
    public const string ShippedAgent = "reach-frozen-pvr";

    /// <summary>The zoo of the project's own pre-trained PVRs (models/pretrained), where a frozen package's PVR is looked up.</summary>
    public const string PretrainedZoo = "models/pretrained/zoo.json";

    /// <summary>Builds the <c>demo</c> verb.</summary>
    public static Command Create()
    {
        var episodes = new Option<int>("--episodes") { Description = "Episodes to run (1..50).", DefaultValueFactory = _ => 3 };
        var seed = new Option<int>("--seed") { Description = "First episode's seed (episode k uses seed + k).", DefaultValueFactory = _ => 1 };
        var rate = new Option<double?>("--rate") { Description = "Control rate, Hz (10..100); default 30, or the rate an --agent was trained at." };
        var policy = new Option<string?>("--policy") { Description = "agent (the shipped trained agent, models/agents/" + ShippedAgent + ": frozen on the project's pre-trained PVR, the default when it is present) or scripted (the scripted reach through the test encoder)." };
        var agent = new Option<string?>("--agent") { Description = "Drive the arm with this agent package (rr eval --package) instead of the shipped one; the demo feeds it the cameras it was trained on." };
        var planner = new Option<string>("--planner") { Description = "With --agent: mppi or prior.", DefaultValueFactory = _ => "mppi" };
        var planSamples = new Option<int>("--plan-samples") { Description = "MPPI sequences per iteration (0: the package's; rr run's policy.samples).", DefaultValueFactory = _ => 0 };
        var planIterations = new Option<int>("--plan-iterations") { Description = "MPPI iterations per cycle (0: the package's; rr run's policy.iterations).", DefaultValueFactory = _ => 0 };
        var shift = new Option<string>("--shift") { Description = "Visual shift preset of the simulator.", DefaultValueFactory = _ => "in-distribution" };
        var timeout = new Option<string>("--episode-timeout") { Description = "An episode not solved by then counts as failed.", DefaultValueFactory = _ => "15s" };
        var runs = new Option<string>("--runs") { Description = "Folder for the run folder.", DefaultValueFactory = _ => "runs" };
        var livePort = new Option<int?>("--live-port") { Description = "Serve the live page on this localhost port while the demo runs (0: a free one)." };
        var verb = new Command("demo", "Run the runtime against the simulator in one go: sim-server in this process, cameras → encoder → scripted reach → safety → arm over ZeroMQ; " +
            "prints each episode, the latency summary and where the run log and plots are.")
        {
            episodes, seed, rate, shift, timeout, runs, livePort, policy, agent, planner, planSamples, planIterations,
        };
        verb.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            int count = result.GetValue(episodes);
            if (count is < 1 or > 50)
            {
                error.WriteLine($"rr demo: --episodes must be 1..50, got {count}");
                return 2;
            }
            TimeSpan episodeTimeout;
            try
            {
                episodeTimeout = RobotRuntime.Timing.SettingText.ParseDuration("--episode-timeout", result.GetValue(timeout)!);
            }
            catch (ArgumentException e)
            {
                error.WriteLine($"rr demo: {e.Message}");
                return 2;
            }
            var repository = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory) ?? Directory.GetCurrentDirectory();
            string shipped = Path.Combine(repository, "models", "agents", ShippedAgent);
            string kind = result.GetValue(policy) ?? (result.GetValue(agent) is not null || File.Exists(Path.Combine(shipped, "manifest.json")) ? "agent" : "scripted");
            if (kind is not ("agent" or "scripted"))
            {
                error.WriteLine($"rr demo: --policy must be agent or scripted, got '{kind}'");
                return 2;
            }
            string? package = kind == "agent" ? result.GetValue(agent) ?? shipped : null;
            double rateHz = result.GetValue(rate) ?? (package is null ? 30 : TrainedRate(package) ?? 30);
            if (result.GetValue(planner) is not ("mppi" or "prior"))
            {
                error.WriteLine($"rr demo: --planner must be mppi or prior, got '{result.GetValue(planner)}'");
                return 2;
            }
            int samples = result.GetValue(planSamples), iterations = result.GetValue(planIterations);
            if (samples is < 0 or > 1 << 16 || iterations is < 0 or > 100)
            {
                error.WriteLine($"rr demo: --plan-samples must be 0–65536 and --plan-iterations 0–100 (0: the package's), got {samples} and {iterations}");
                return 2;
            }
            if ((samples > 0 || iterations > 0) && (package is null || result.GetValue(planner) != "mppi"))
            {
                error.WriteLine("rr demo: --plan-samples and --plan-iterations size the agent's MPPI search: they need --policy agent and --planner mppi");
                return 2;
            }
            return Run(count, result.GetValue(seed), rateHz, result.GetValue(shift)!, episodeTimeout, result.GetValue(runs)!, result.GetValue(livePort),
                package, result.GetValue(planner)!, samples, iterations, output, error);
        });
        return verb;
    }

    /// <summary>The control rate recorded in an agent package (by rr eval), or null when absent or unreadable (rr run's package check names the problem).</summary>
    private static double? TrainedRate(string package) => RobotRuntime.Agents.Packaging.AgentPackage.ReadControlRate(package);

    /// <summary>The PVR id an agent package encodes with (its manifest's "pvr"), or null for a scratch agent or an unreadable manifest.</summary>
    private static string? AgentPvr(string package)
    {
        try
        {
            var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(package, "manifest.json")));
            var id = manifest?["pvr"]?["id"]?.GetValue<string>();
            var mode = manifest?["agent"]?["mode"]?.GetValue<string>();
            return id is null or "scratch" || mode is "scratch" or "full" ? null : id;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidOperationException)
        {
            return null; // rr run's package check names the problem
        }
    }

    /// <summary>The cameras an agent package sees, in order (its config's "cameras"), or null when unreadable.</summary>
    private static string[]? AgentCameras(string package)
    {
        try
        {
            var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(package, "manifest.json")));
            return manifest?["agent"]?["cameras"]?.AsArray().Select(n => n!.GetValue<string>()).ToArray();
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException or InvalidOperationException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static int Run(int episodes, int seed, double rateHz, string shift, TimeSpan episodeTimeout, string runsFolder, int? livePort,
        string? agentPackage, string planner, int planSamples, int planIterations, TextWriter output, TextWriter error)
    {
        var repository = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory) ?? Directory.GetCurrentDirectory();
        var zoo = Path.Combine(repository, "models", "test", "test-zoo.json");
        SimServerHost host;
        try
        {
            host = SimServerHost.Start(new SimServerOptions
            {
                Task = "reach", Shift = shift, Seed = seed,
                StateEndpoint = "tcp://127.0.0.1:*", CommandEndpoint = "tcp://127.0.0.1:*", ControlEndpoint = "tcp://127.0.0.1:*",
                FrontCameraEndpoint = "tcp://127.0.0.1:*", WristCameraEndpoint = "tcp://127.0.0.1:*",
                CameraRateHz = 30, CameraWidth = 64, CameraHeight = 64, WatchdogMilliseconds = 200, Quiet = true,
            });
        }
        catch (Exception e) when (e is ArgumentException or NativeDependencyMissingException)
        {
            error.WriteLine($"rr demo: cannot start the simulator: {e.Message}");
            return e is NativeDependencyMissingException ? 3 : 2;
        }
        using (host)
        {
            var endpoints = host.Endpoints;
            output.WriteLine($"rr demo: simulator up (task reach, shift {shift}, seed {seed}); arm on {endpoints.Control}, cameras front + wrist at 64×64, 30 fps");
            // A scratch agent sees the cameras it was trained on, without a PVR; the scripted reach sees both through the project's test encoder.
            string[] cameraNames = agentPackage is null ? ["front", "wrist"] : AgentCameras(agentPackage) ?? ["front"];
            // A frozen (or partial) agent encodes with its PVR in the loop: the project's pre-trained zoo has it.
            string? pvr = agentPackage is null ? null : AgentPvr(agentPackage);
            var config = new RunConfig
            {
                RateHz = rateHz, RunsFolder = runsFolder, Policy = agentPackage is null ? "scripted-reach" : "agent",
                AgentPackage = agentPackage, AgentPlanner = planner, AgentPlanSamples = planSamples, AgentPlanIterations = planIterations,
                ArmState = endpoints.State, ArmCommand = endpoints.Command, ArmControl = endpoints.Control, ArmSecret = endpoints.Secret,
                EncoderZoo = agentPackage is null ? zoo : pvr is null ? null : Path.Combine(repository, PretrainedZoo),
                EncoderId = agentPackage is null ? "test-conv-batched" : pvr,
                MaxFrameAge = TimeSpan.FromMilliseconds(150),
                // The demo shares two cores with the simulator it renders; a few late cycles on a busy
                // machine should not end it. rr run's default stays 3.
                MaxDeadlineMisses = 10,
                LivePort = livePort,
            };
            var results = new List<(int Episode, bool Success, double Seconds)>();
            var episodeStart = DateTime.UtcNow;
            var successSince = (DateTime?)null;
            var released = new SortedDictionary<HoldReason, int>();
            var lastRelease = DateTime.MinValue;
            var hooks = new RuntimeHooks
            {
                Cameras = cameraNames.Select(n => host.Server.LocalCameras.TryGetValue(n, out var camera) ? camera
                    : throw new ArgumentException($"the agent sees camera '{n}', the simulator has front and wrist")).ToList(),
                Goal = () => host.Server.Snapshot.Goal,
                Tick = session =>
                {
                    var snapshot = host.Server.Snapshot;
                    var now = DateTime.UtcNow;
                    var elapsed = (now - episodeStart).TotalSeconds;
                    // The scripted reach must hold success for 0.3 s, so a pass through the goal does not
                    // count. An agent is judged as it was trained and evaluated: the task's episode ends
                    // the moment the tip is within the goal's radius.
                    // The demo drives its own simulator and is its own operator (it resets between episodes):
                    // a hold for lateness — a frame, a state or a command too old, deadlines missed — is what a
                    // busy machine does to a loop sharing two cores with the simulator it renders, so the demo
                    // releases it once the cause is gone, as an operator would, and says so. Every other hold
                    // (e-stop, link lost, the arm's own, a failed policy) stays until the episode ends.
                    var status = session.Loop.Status;
                    if (status.Holding && IsLateness(status.HoldReason) && now - lastRelease > TimeSpan.FromSeconds(0.5))
                    {
                        lastRelease = now;
                        var release = session.OperatorReset();
                        if (release.Succeeded)
                        {
                            released[status.HoldReason] = released.GetValueOrDefault(status.HoldReason) + 1;
                            session.Say($"rr demo: the arm held ({status.HoldReason}: {status.HoldText}); released it as an operator would — this machine is busy");
                        }
                    }
                    successSince = snapshot.IsSuccess ? successSince ?? now : null;
                    bool solved = successSince is { } since && (agentPackage is not null || now - since >= TimeSpan.FromSeconds(0.3));
                    if (!solved && elapsed < episodeTimeout.TotalSeconds)
                        return true;
                    results.Add((results.Count, solved, elapsed));
                    session.Say(string.Create(CultureInfo.InvariantCulture,
                        $"rr demo: episode {results.Count - 1}: {(solved ? "reached the goal" : "NOT reached")} in {elapsed:0.0} s (goal distance {snapshot.GoalDistance:0.000} m)"));
                    if (results.Count >= episodes)
                        return false;
                    // The simulator's RESET starts the next episode (and disables the arm); the operator's
                    // reset then enables it and, if the safety layer saw the arm disabled meanwhile
                    // (ArmDisabled), releases that hold as an operator would.
                    var reset = session.Link.Request(ArmControlRequest.Reset, TimeSpan.FromSeconds(2));
                    var resume = reset.Succeeded ? session.OperatorReset() : default;
                    if (!reset.Succeeded || !resume.Succeeded)
                    {
                        session.Say($"rr demo: could not start the next episode: {(reset.Succeeded ? resume.Message : reset.Detail)}");
                        return false;
                    }
                    episodeStart = DateTime.UtcNow;
                    successSince = null;
                    return true;
                },
            };
            int code = RunCommand.Execute(config, hooks, output, error, input: null);
            int solvedCount = results.Count(r => r.Success);
            output.WriteLine($"rr demo: {solvedCount} of {results.Count} episode(s) reached the goal" +
                (released.Count == 0 ? "" : $"; holds for lateness released: {string.Join(", ", released.Select(r => $"{r.Value} {r.Key}"))}"));
            if (code != 0)
                return code;
            // The scripted reach must solve every episode (a miss is a fault); a learned agent's misses are
            // its success rate, reported above, so it passes when every episode ran.
            return results.Count == episodes && (agentPackage is not null || solvedCount == episodes) ? 0 : 1;
        }
    }

    /// <summary>Holds a busy machine causes and that end on their own: something arrived or ran too late.</summary>
    internal static bool IsLateness(HoldReason reason) =>
        reason is HoldReason.StaleCameraFrame or HoldReason.StaleArmState or HoldReason.DeadlineMisses or HoldReason.CommandExpired;
}
