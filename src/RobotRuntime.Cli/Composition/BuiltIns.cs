using System.Globalization;
using RobotRuntime.Agents;
using RobotRuntime.Agents.Encoders;
using RobotRuntime.Agents.Packaging;
using RobotRuntime.Agents.Planning;
using RobotRuntime.Arm;
using RobotRuntime.Cli.Runtime;
using RobotRuntime.Encoders;
using RobotRuntime.Policies;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Vision.Encoders;

namespace RobotRuntime.Cli.Composition;

/// <summary>The backends the runtime ships: one registration each.</summary>
internal static class BuiltIns
{
    public static Registry<IEncoder> Encoders()
    {
        var registry = new Registry<IEncoder>("encoder", ["zoo", "id", "threads", "pipeline", "device", "device_id", "kind"]);
        registry.Register(new Backend<IEncoder>("onnx", "a PVR from the zoo (encoder.zoo, encoder.id) on ONNX Runtime; 'file' replaces the zoo's model file",
            ["file"], OnnxEncoder, PreflightOnnx));
        return registry;
    }

    public static Registry<IArmLink> ArmLinks()
    {
        var registry = new Registry<IArmLink>("arm", ["state", "command", "control", "key", "curve_public_key", "kind", "kinematics"]);
        registry.Register(new Backend<IArmLink>("zmq", "the firmware protocol over ZeroMQ (an arm, a bridge, rr sim-server, rr-arm-endpoint)", [],
            c => new ZmqArmLink(new ZmqArmLinkSettings
            {
                StateAddress = c.Config.ArmState, CommandAddress = c.Config.ArmCommand, ControlAddress = c.Config.ArmControl,
                Secret = c.Secret, Takeover = c.Config.Takeover, CurveServerPublicKey = c.Config.ArmCurvePublicKey,
            }),
            // The shared secret is read before anything is contacted: a missing key file is named at once.
            c => _ = c.Secret));
        registry.Register(new Backend<IArmLink>("sim", "the simulator's arm in this process, without sockets (arm.arm: toy4 or ur5e, arm.task, arm.shift, arm.seed)",
            ["arm", "task", "shift", "seed"], SimulatorArm, c => SimulatorOptions(c).Validate()));
        return registry;
    }

    public static Registry<PolicyBuild> Policies()
    {
        var registry = new Registry<PolicyBuild>("policy", ["kind", "goal", "package", "planner"]);
        registry.Register(new Backend<PolicyBuild>("hold-still", "holds the arm where it is", [],
            c => new PolicyBuild(new HoldStillPolicy(), c.ConfiguredEncoder())));
        registry.Register(new Backend<PolicyBuild>("scripted-reach", "drives the end effector to policy.goal (or the host's goal)", [],
            c =>
            {
                var goal = c.Goal ?? FixedGoal(c.Config);
                if (c.Arm is { } described && !described.SupportedModes.Contains(ArmCommandMode.EndEffectorDelta))
                    throw new ConfigException($"policy.kind: scripted-reach commands end-effector deltas and this arm takes only {string.Join("/", described.SupportedModes)} commands");
                var step = c.Arm is { EndEffectorMaxTranslation: > 0 } arm ? arm.EndEffectorMaxTranslation : 0.01;
                return new PolicyBuild(new ScriptedReachPolicy(goal, step), c.ConfiguredEncoder());
            },
            c =>
            {
                if (c.Goal is null)
                    FixedGoal(c.Config);
            }));
        registry.Register(new Backend<PolicyBuild>("agent", "a trained agent package (policy.package) planning with policy.planner", [],
            AgentPolicyBuild, c => _ = c.Config.AgentPackage ?? throw new ConfigException("policy.package: the agent policy needs the folder of an agent package (made by rr eval --package)")));
        return registry;
    }

    // ---- arm "sim" ---------------------------------------------------------------------------------

    private static SimServer.SimServerOptions SimulatorOptions(CompositionContext c) => new()
    {
        ArmTransport = SimServer.ArmTransport.InProcess,
        Arm = c.Options.Text("arm", "toy4")!,
        Task = c.Options.Text("task", "reach")!,
        Shift = c.Options.Text("shift", RobotRuntime.Sim.Shifts.VisualShifts.InDistribution)!,
        Seed = c.Options.Integer("seed", 1, 0, int.MaxValue),
        CameraRateHz = 0,
        Quiet = true,
    };

    /// <summary>The simulator's arm, served by a sim-server on a thread of this process and reached without sockets.</summary>
    private static IArmLink SimulatorArm(CompositionContext c)
    {
        var options = SimulatorOptions(c);
        SimServer.SimServerHost host;
        try
        {
            host = c.Own(SimServer.SimServerHost.Start(options));
        }
        catch (ArgumentException e)
        {
            throw new ConfigException("arm: " + Recording.CliText.WithoutParameter(e));
        }
        // The simulator knows its arm's kinematic model (arm.kinematics, when given, wins).
        c.Kinematics = RobotRuntime.Sim.Tabletop.SimArm.Get(options.Arm).Chain;
        c.Say($"rr: simulator arm {options.Arm} in this process (task {options.Task}, shift {options.Shift}, seed {options.Seed}; no sockets)");
        c.RewardSource = new SimulatorReward(host.Server);
        return host.ConnectInProcess();
    }

    /// <summary>The in-process simulator's task reward and success, read without waiting for its thread.</summary>
    private sealed class SimulatorReward(SimServer.SimServer server) : RobotRuntime.Telemetry.ITaskRewardSource
    {
        public bool TryRead(out double reward, out bool success)
        {
            var ok = server.TryGetSnapshot(out var snapshot);
            reward = snapshot.Reward;
            success = snapshot.IsSuccess;
            return ok;
        }
    }

    private static Func<(double X, double Y, double Z)> FixedGoal(RunConfig config)
    {
        var goal = config.Goal ?? throw new ConfigException("policy.goal: the scripted-reach policy needs a goal [x, y, z] in metres");
        return () => goal;
    }

    // ---- encoder "onnx" ---------------------------------------------------------------------------

    private static (PvrModel Model, string File) ZooModel(RunConfig config, SectionOptions options)
    {
        if (config.EncoderZoo is null || config.EncoderId is null)
            throw new ConfigException("encoder: both 'zoo' and 'id' are needed");
        PvrZoo zoo;
        try
        {
            zoo = PvrZoo.Load(config.EncoderZoo);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException)
        {
            throw new ConfigException($"encoder.zoo: cannot read the PVR zoo {config.EncoderZoo}: {e.Message}");
        }
        try
        {
            var model = zoo.Get(config.EncoderId);
            return (model, options.Text("file") ?? zoo.ResolveFile(model));
        }
        catch (Exception e) when (e is KeyNotFoundException or FileNotFoundException)
        {
            throw new ConfigException("encoder.id: " + e.Message);
        }
    }

    private static void PreflightOnnx(CompositionContext c)
    {
        var (model, file) = ZooModel(c.Config, c.Options);
        if (!File.Exists(file))
            throw new ConfigException($"encoder.file: {file} is not there");
        try
        {
            Tensors.Onnx.OnnxGraph.Load(file);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException or NotSupportedException or IndexOutOfRangeException)
        {
            throw new ConfigException($"encoder.id: PVR '{model.Id}' points at {file}, which is not a readable ONNX model ({e.Message})");
        }
        PreflightDevice(c.Config);
    }

    /// <summary>A GPU asked for and absent is named before the arm is contacted.</summary>
    internal static void PreflightDevice(RunConfig config)
    {
        if (config.EncoderDevice == Onnx.OnnxDevice.Cpu)
            return;
        try
        {
            Onnx.OnnxSessions.CreateOptions(config.EncoderSession).Dispose();
        }
        catch (Onnx.ExecutionProviderUnavailableException e)
        {
            throw new ConfigException("encoder.device: " + e.Message);
        }
    }

    private static IEncoder OnnxEncoder(CompositionContext c)
    {
        var (count, width, height) = c.Frames;
        if (count == 0)
            throw new ConfigException("encoder: an encoder needs at least one camera under 'cameras'");
        var (model, file) = ZooModel(c.Config, c.Options);
        var encoder = new OnnxPvrEncoder(model, file, count, width, height, c.Config.EncoderSession);
        c.Say($"rr: encoder {model.Id} ({encoder.EmbeddingSize} floats from {count} camera(s), ONNX Runtime {Onnx.OnnxRuntimeLibrary.Version} on {Onnx.OnnxSessionSettings.Name(c.Config.EncoderDevice)})");
        return encoder;
    }

    // ---- policy "agent" ---------------------------------------------------------------------------

    /// <summary>
    /// The trained agent of <c>policy.package</c>, checked against what this run gives it (the PVR it was
    /// trained with, the cameras and image size, the control rate), and the encoder the loop runs for it:
    /// the run's PVR (frozen), its trunk plus the agent's tail (partial), the agent's fine-tuned PVR (full)
    /// or its CNN (scratch) — so encode time is logged as encode, and planning as plan.
    /// </summary>
    private static PolicyBuild AgentPolicyBuild(CompositionContext c)
    {
        var config = c.Config;
        var folder = config.AgentPackage ?? throw new ConfigException("policy.package: the agent policy needs the folder of an agent package (made by rr eval --package)");
        PvrModel? pvrModel = null;
        string? pvrFile = null;
        if (config.EncoderZoo is not null && config.EncoderId is not null)
            (pvrModel, pvrFile) = ZooModel(config, config.EncoderOptions);
        AgentPackage.Loaded loaded;
        try
        {
            loaded = AgentPackage.Load(folder, pvrFile, pvrModel);
        }
        catch (InvalidDataException e)
        {
            throw new ConfigException("policy.package: " + e.Message);
        }
        var model = loaded.Model;
        var agentConfig = model.Config;
        var layout = model.Layout;
        var cameras = c.Cameras;
        if (loaded.Pvr.Id != "scratch" && config.EncoderId != loaded.Pvr.Id)
            throw new ConfigException($"policy.package: agent '{folder}' was trained on PVR '{loaded.Pvr.Id}'; set encoder.id to it (the run has {(config.EncoderId is null ? "no encoder" : $"'{config.EncoderId}'")})");
        if (loaded.Pvr.Id == "scratch" && config.EncoderId is not null)
            throw new ConfigException($"policy.package: agent '{folder}' learned its own encoder from camera images (scratch); remove the 'encoder' section");
        if (cameras.Count != agentConfig.Cameras.Length)
            throw new ConfigException($"policy.package: agent '{folder}' sees {agentConfig.Cameras.Length} camera(s) ({string.Join(", ", agentConfig.Cameras)}); 'cameras' has {cameras.Count}");
        if (layout.Kind == RobotRuntime.Agents.Model.FeatureKind.Images)
        {
            for (var i = 0; i < agentConfig.Cameras.Length; i++)
            {
                if (cameras[i].Name != agentConfig.Cameras[i] || cameras[i].Width != layout.ImageSize || cameras[i].Height != layout.ImageSize)
                    throw new ConfigException($"policy.package: agent '{folder}' expects camera {i} to be '{agentConfig.Cameras[i]}' at {layout.ImageSize}×{layout.ImageSize}; the run has '{cameras[i].Name}' at {cameras[i].Width}×{cameras[i].Height}");
            }
        }

        // The ONNX part in the loop: the run's PVR (frozen) or the agent's frozen trunk (partial).
        OnnxPvrEncoder? onnx = null;
        if (agentConfig.Mode is EncoderMode.Frozen or EncoderMode.Partial && cameras.Count > 0)
        {
            var tail = agentConfig.Mode == EncoderMode.Partial ? model.PvrTail : null;
            var (encoderModel, encoderFile) = tail is null ? (pvrModel!, pvrFile!) : (tail.Trunk!, tail.TrunkFile!);
            onnx = new OnnxPvrEncoder(encoderModel, encoderFile, cameras.Count, cameras[0].Width, cameras[0].Height, config.EncoderSession);
        }
        IEncoder encoder;
        try
        {
            encoder = AgentVisionEncoders.Create(model, onnx);
        }
        catch (ArgumentException e)
        {
            onnx?.Dispose();
            throw new ConfigException("policy.package: " + e.Message);
        }
        c.Say($"rr: encoder {encoder.Name} ({agentConfig.Mode.ToString().ToLowerInvariant()}; {encoder.EmbeddingSize} floats from {cameras.Count} camera(s){(onnx is null ? ", on the engine" : $", ONNX Runtime {Onnx.OnnxRuntimeLibrary.Version} on {Onnx.OnnxSessionSettings.Name(config.EncoderDevice)}")})");

        double trainedRate = loaded.ControlRateHz ?? 0;
        int episodeSteps = loaded.EpisodeSteps ?? 100;
        if (trainedRate > 0 && Math.Abs(trainedRate - config.RateHz) > 0.01 * trainedRate)
            c.Say($"rr: warning: agent '{folder}' was trained acting at {trainedRate:0.##} Hz and this run's rate_hz is {config.RateHz:0.##}; each action is one end-effector step, so the arm moves {config.RateHz / trainedRate:0.##}× as fast as in training");
        var planner = PlannerOptions.FromConfig(agentConfig, agentConfig.DiscountFor(episodeSteps)) with { Kind = config.AgentPlanner };
        if (config.AgentPlanSamples > 0 || config.AgentPlanIterations > 0)
        {
            if (config.AgentPlanner != RobotRuntime.Agents.Planning.Planners.Mppi)
                throw new ConfigException($"policy.samples and policy.iterations size MPPI's search, but policy.planner is '{config.AgentPlanner}', which does not search: drop them or set policy.planner: mppi");
            planner = planner.Resized(config.AgentPlanSamples, config.AgentPlanIterations);
        }
        AgentPolicy policy;
        try
        {
            var arm = c.Arm ?? throw new ConfigException("policy: the agent needs the arm's description (the link's handshake) before it is made");
            var chain = c.Kinematics;
            if (loaded.ArmLayout.Mismatch(arm, chain is not null) is { } why)
                throw new ConfigException($"policy.package: agent '{folder}' was trained on the '{loaded.ArmName}' arm ({loaded.ArmLayout.Describe()}) and cannot drive this one: {why}");
            var workspace = config.Workspace is { } w ? new RobotRuntime.Safety.WorkspaceBox(w[0], w[1], w[2], w[3], w[4], w[5]) : (RobotRuntime.Safety.WorkspaceBox?)null;
            var translator = new ActionTranslator(loaded.ArmLayout, arm, chain, workspace);
            policy = new AgentPolicy(model, planner, translator);
            c.Say($"rr: the agent's actions: {translator.Route}");
        }
        catch (Exception e) when (e is ArgumentException or ConfigException)
        {
            encoder.Dispose();
            throw e as ConfigException ?? new ConfigException("policy: " + e.Message);
        }
        c.Say($"rr: agent {policy.Name} from {Path.GetFullPath(folder)} (task {loaded.Task} on {loaded.ArmName}, {agentConfig.Size}, {model.TrainableParameterCount():N0} parameters, planner {config.AgentPlanner}{(config.AgentPlanner == RobotRuntime.Agents.Planning.Planners.Mppi ? $" {planner.Samples} × {planner.Iterations}" : "")}{(trainedRate > 0 ? $", trained at {trainedRate:0.##} Hz" : "")})");
        return new PolicyBuild(policy, encoder);
    }
}
