using System.Diagnostics;
using System.Globalization;
using RobotRuntime.Arm;
using RobotRuntime.SimServer;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Benchmarks.Simulator;

/// <summary>
/// Side-by-side comparison (not a BenchmarkDotNet suite: it needs the distribution of single
/// exchanges): the round trip from <see cref="IArmLink.Send"/> to the first STATE that reports the
/// command applied, between the runtime and a sim-server in this process, over loopback ZeroMQ
/// (<see cref="ZmqArmLink"/>, tcp://127.0.0.1, what rr demo and rr bench use today) and in process
/// (<see cref="InProcessArmLink"/>). Two servers run side by side (cameras off, 250 Hz STATE); the two
/// paths alternate command by command (and which goes first alternates round by round), so load from other
/// processes on a shared machine falls on both alike.
/// Run: <c>benchmarks/sim-link-roundtrip [COMMANDS]</c>.
/// </summary>
public static class SimArmLinkRoundTrip
{
    /// <summary>The first argument that selects this comparison instead of BenchmarkSwitcher.</summary>
    public const string Verb = "sim-link-roundtrip";

    private static readonly TimeSpan ControlTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Runs the comparison and prints a table; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var commands = 5_000;
        if (args.Length > 0 && (!int.TryParse(args[0], CultureInfo.InvariantCulture, out commands) || commands < 1))
        {
            Console.Error.WriteLine($"{Verb}: COMMANDS must be a positive integer, got '{args[0]}'");
            return 2;
        }
        Console.WriteLine($"{Verb}: {commands} commands per path, paths alternating, {Environment.ProcessorCount} cores, " +
                          $".NET {Environment.Version}, libzmq {ZmqLibrary.Version}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");

        var options = new SimServerOptions { CameraRateHz = 0, WatchdogMilliseconds = 60_000, Quiet = true };
        using var zmqHost = SimServerHost.Start(options with
        {
            StateEndpoint = "tcp://127.0.0.1:*", CommandEndpoint = "tcp://127.0.0.1:*", ControlEndpoint = "tcp://127.0.0.1:*",
        });
        using var inProcessHost = SimServerHost.Start(options with { ArmTransport = ArmTransport.InProcess });
        using var zmqLink = new ZmqArmLink(zmqHost.Endpoints.LinkSettings with { LinkTimeout = TimeSpan.FromSeconds(2) });
        using var inProcessLink = inProcessHost.ConnectInProcess(new InProcessArmLinkSettings { LinkTimeout = TimeSpan.FromSeconds(2) });
        (string Name, FirmwareArmLink Link, List<double> Micros)[] paths =
        [
            ("loopback ZeroMQ (tcp), ZmqArmLink", zmqLink, new List<double>(commands)),
            ("in process, InProcessArmLink", inProcessLink, new List<double>(commands)),
        ];
        foreach (var (name, link, _) in paths)
            Prepare(name, link);

        var timeouts = new long[paths.Length];
        for (var round = -1_000; round < commands; round++) // the first 1,000 rounds warm up
        {
            // Which path goes first alternates too: whatever one path leaves running (ZeroMQ's I/O threads
            // finishing their work) falls on the other as often as the other way round.
            for (var i = 0; i < paths.Length; i++)
            {
                var p = ((i + round) % paths.Length + paths.Length) % paths.Length;
                var micros = RoundTrip(paths[p].Link, round);
                if (micros < 0)
                    timeouts[p]++;
                else if (round >= 0)
                    paths[p].Micros.Add(micros);
            }
        }

        Console.WriteLine();
        Console.WriteLine("| path | commands | median µs | p99 µs | max µs | median ratio to ZeroMQ | p99 ratio to ZeroMQ |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        var baseline = Sorted(paths[0].Micros);
        for (var p = 0; p < paths.Length; p++)
        {
            var sorted = Sorted(paths[p].Micros);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {paths[p].Name} | {sorted.Length} | {Percentile(sorted, 0.5):0.0} | {Percentile(sorted, 0.99):0.0} | {sorted[^1]:0.0} | " +
                $"{Percentile(sorted, 0.5) / Percentile(baseline, 0.5):0.00} | {Percentile(sorted, 0.99) / Percentile(baseline, 0.99):0.00} |"));
        }
        Console.WriteLine();
        SimServerHost[] hosts = [zmqHost, inProcessHost];
        for (var p = 0; p < paths.Length; p++)
        {
            // A command the arm never applies is one it rejected: after a scheduling stall longer than the
            // command lifetime (100 ms) it has expired by the time the server takes it, as on a real arm.
            var query = paths[p].Link.QueryFaults(ControlTimeout, out var report);
            var expired = query.Succeeded ? report!.RejectedFor(FrameStatus.Expired).ToString(CultureInfo.InvariantCulture) : "?";
            Console.WriteLine($"{paths[p].Name}: {timeouts[p]} commands not reported applied within 1 s (not in the figures); " +
                $"the arm rejected {hosts[p].Server.Statistics.CommandsRejected}, {expired} of them expired");
        }
        Console.WriteLine();
        Console.WriteLine($"in-process commands replaced before the server took them: {inProcessLink.CommandsReplaced}");
        return 0;
    }

    private static void Prepare(string name, FirmwareArmLink link)
    {
        var handshake = link.Handshake(ControlTimeout);
        var enable = link.Request(ArmControlRequest.Enable, ControlTimeout);
        var deadline = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
        while (link.Health.Status != ArmLinkStatus.Up && Stopwatch.GetTimestamp() < deadline)
            Thread.Sleep(5);
        if (!handshake.Succeeded || !enable.Succeeded || link.Health.Status != ArmLinkStatus.Up)
            throw new InvalidOperationException($"{name}: not ready: {handshake.Detail} {enable.Detail} {link.Health}");
    }

    /// <summary>Sends one joint-position command and waits for the STATE that reports it applied; µs, or -1 after 1 s.</summary>
    private static double RoundTrip(FirmwareArmLink link, int round)
    {
        var command = ArmCommand.JointPositions([round % 2 == 0 ? 0.1 : 0.2, 0, 0, 0], 0.5);
        var start = Stopwatch.GetTimestamp();
        if (link.Send(command, out var sent) is not (ArmSendStatus.Sent or ArmSendStatus.SentClipped))
            throw new InvalidOperationException($"send failed: {link.Health}");
        var deadline = start + Stopwatch.Frequency;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            link.WaitForState(TimeSpan.FromMilliseconds(100));
            if (link.TryGetLatestState(TimeSpan.MaxValue, out var state, out _) && state.LastCommandSequence == sent.Sequence)
                return Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        return -1;
    }

    private static double[] Sorted(List<double> samples)
    {
        var sorted = samples.ToArray();
        Array.Sort(sorted);
        return sorted;
    }

    private static double Percentile(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
}
