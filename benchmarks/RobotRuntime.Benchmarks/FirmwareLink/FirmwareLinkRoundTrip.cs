using System.Diagnostics;
using System.Globalization;
using RobotRuntime.Arm;
using RobotRuntime.Native;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Benchmarks.FirmwareLink;

/// <summary>
/// Side-by-side comparison (not a BenchmarkDotNet suite: it needs the distribution of single
/// exchanges): command → state round trip through <see cref="ZmqArmLink"/> and the reference arm
/// endpoint, beside a raw libzmq REQ/REP echo of a frame of the same size served by the same
/// endpoint process, over ipc and tcp loopback. The two paths alternate exchange by exchange, so
/// load from other processes on a shared machine falls on both alike.
/// Run: <c>benchmarks/firmware-link-roundtrip [EXCHANGES]</c>.
/// </summary>
public static class FirmwareLinkRoundTrip
{
    /// <summary>The first argument that selects this comparison instead of BenchmarkSwitcher.</summary>
    public const string Verb = "firmware-link-roundtrip";

    /// <summary>Runs the comparison and prints a table; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var exchanges = 20_000;
        if (args.Length > 0 && (!int.TryParse(args[0], CultureInfo.InvariantCulture, out exchanges) || exchanges < 1))
        {
            Console.Error.WriteLine($"{Verb}: EXCHANGES must be a positive integer, got '{args[0]}'");
            return 2;
        }
        var repository = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)
            ?? throw new InvalidOperationException($"no RobotRuntime.sln above {AppContext.BaseDirectory}");
        var endpointPath = Path.Combine(repository, ".native", "bin", "rr-arm-endpoint");
        if (!File.Exists(endpointPath))
        {
            Console.Error.WriteLine($"{Verb}: {endpointPath} is not built; run scripts/bootstrap");
            return 1;
        }

        Console.WriteLine($"{Verb}: {exchanges} exchanges per path and transport, paths alternating, " +
                          $"{Environment.ProcessorCount} cores, .NET {Environment.Version}, libzmq {ZmqLibrary.Version}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        var results = new List<(string Transport, string Path, double[] Micros)>();
        foreach (var transport in new[] { "ipc", "tcp" })
        {
            using var rig = Rig.Start(endpointPath, transport);
            var linkSamples = new List<double>(exchanges);
            var rawSamples = new List<double>(exchanges);
            rig.Warm(2_000);
            for (var i = 0; i < exchanges; i++)
            {
                rawSamples.AddRange(rig.RawEcho(1));
                linkSamples.AddRange(rig.LinkRoundTrip(1));
            }
            results.Add((transport, "raw REQ/REP echo", rawSamples.ToArray()));
            results.Add((transport, "ZmqArmLink command → state", linkSamples.ToArray()));
            if (rig.Timeouts > 0)
                Console.WriteLine($"{transport}: {rig.Timeouts} exchanges timed out (1 s) and are not in the figures");
        }

        Console.WriteLine();
        Console.WriteLine("| transport | path | exchanges | median µs | p99 µs | max µs | median ratio | p99 ratio |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var group in results.GroupBy(r => r.Transport))
        {
            var raw = group.First(r => r.Path.StartsWith("raw", StringComparison.Ordinal));
            foreach (var r in group)
            {
                Array.Sort(r.Micros);
                var median = Percentile(r.Micros, 0.5);
                var p99 = Percentile(r.Micros, 0.99);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {r.Transport} | {r.Path} | {r.Micros.Length} | {median:0.0} | {p99:0.0} | {r.Micros[^1]:0.0} | " +
                    $"{median / Percentile(raw.Micros, 0.5):0.00} | {p99 / Percentile(raw.Micros, 0.99):0.00} |"));
            }
        }
        return 0;
    }

    private static double Percentile(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];

    /// <summary>One endpoint process plus the link and a raw REQ socket to its echo port.</summary>
    private sealed class Rig : IDisposable
    {
        private readonly Process _endpoint;
        private readonly ZmqArmLink _link;
        private readonly ZmqContext _context;
        private readonly ZmqSocket _request;
        private readonly ZmqMessage _reply = new();
        private readonly byte[] _frame;
        private readonly string? _ipcPrefix;
        private ArmCommand _command;

        public long Timeouts { get; private set; }

        private Rig(Process endpoint, ZmqArmLinkSettings settings, string echo, string? ipcPrefix)
        {
            _endpoint = endpoint;
            _ipcPrefix = ipcPrefix;
            _link = new ZmqArmLink(settings);
            _context = ZmqContext.Create();
            _request = ZmqSocket.Create(_context, ZmqSocketType.Request);
            _request.SetReceiveTimeout(1000);
            _request.SetMaxMessageSize(FirmwareCodec.SocketMaxMessage);
            _request.Connect(echo);
            var deadline = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
            while (_link.Health.Status != ArmLinkStatus.Up && Stopwatch.GetTimestamp() < deadline)
                Thread.Sleep(5);
            var handshake = _link.Handshake(TimeSpan.FromSeconds(5));
            var enable = _link.Request(ArmControlRequest.Enable, TimeSpan.FromSeconds(5));
            if (!handshake.Succeeded || !enable.Succeeded)
                throw new InvalidOperationException($"endpoint not ready: {handshake.Detail} {enable.Detail}");
            _command = ArmCommand.JointPositions([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 0.5);
            // The raw echo carries a frame of the same size as a 6-joint command.
            var buffer = new byte[FirmwareCodec.MaxFrame];
            _frame = buffer[..FirmwareCodec.EncodeCommand(buffer, 1, 1, 1, 1, _command, new byte[FirmwareCodec.KeySize])];
        }

        public static Rig Start(string endpointPath, string transport)
        {
            string state, command, control, echo;
            string? prefix = null;
            if (transport == "ipc")
            {
                prefix = Path.Combine(Path.GetTempPath(), $"rrbench-{Guid.NewGuid():N}"[..20]);
                (state, command, control, echo) = ($"ipc://{prefix}-state", $"ipc://{prefix}-command", $"ipc://{prefix}-control", $"ipc://{prefix}-echo");
            }
            else
            {
                (state, command, control, echo) = (FreeTcp(), FreeTcp(), FreeTcp(), FreeTcp());
            }
            var keyFile = Path.Combine(Path.GetTempPath(), $"rrbench-key-{Guid.NewGuid():N}");
            var secret = ArmKeyFile.Create(keyFile);
            var start = new ProcessStartInfo(endpointPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "--key", keyFile, "--state", state, "--command", command, "--control", control, "--echo", echo, "--rate", "100", "--watchdog-ms", "60000", "--quiet" })
                start.ArgumentList.Add(a);
            var process = Process.Start(start)!;
            process.BeginErrorReadLine();
            var ready = process.StandardOutput.ReadLine();
            File.Delete(keyFile); // read at start-up
            if (ready is null || !ready.Contains("ready", StringComparison.Ordinal))
                throw new InvalidOperationException($"rr-arm-endpoint did not start on {transport}");
            var settings = new ZmqArmLinkSettings { StateAddress = state, CommandAddress = command, ControlAddress = control, LinkTimeout = TimeSpan.FromSeconds(2), Secret = secret };
            return new Rig(process, settings, echo, prefix);
        }

        private static string FreeTcp()
        {
            using var context = ZmqContext.Create();
            using var probe = ZmqSocket.Create(context, ZmqSocketType.Reply);
            probe.Bind("tcp://127.0.0.1:*");
            return probe.LastEndpoint;
        }

        public void Warm(int count)
        {
            RawEcho(count);
            LinkRoundTrip(count);
        }

        public double[] RawEcho(int count)
        {
            var samples = new double[count];
            for (var i = 0; i < count; i++)
            {
                var start = Stopwatch.GetTimestamp();
                _request.TrySend(_frame, wait: true);
                if (_request.TryReceive(_reply, wait: true) != ZmqReceiveStatus.Received)
                    throw new InvalidOperationException("raw echo timed out");
                samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            }
            return samples;
        }

        public double[] LinkRoundTrip(int count)
        {
            var samples = new List<double>(count);
            for (var i = 0; i < count; i++)
            {
                _command.Values[0] = i % 2 == 0 ? 0.1 : 0.2;
                var start = Stopwatch.GetTimestamp();
                if (_link.Send(_command, out var sent) is not (ArmSendStatus.Sent or ArmSendStatus.SentClipped))
                    throw new InvalidOperationException($"send failed: {_link.Health}");
                var deadline = start + Stopwatch.Frequency;
                var seen = false;
                while (Stopwatch.GetTimestamp() < deadline)
                {
                    _link.WaitForState(TimeSpan.FromMilliseconds(100));
                    if (_link.TryGetLatestState(TimeSpan.MaxValue, out var state, out _) && state.LastCommandSequence == sent.Sequence)
                    {
                        seen = true;
                        break;
                    }
                }
                if (seen)
                    samples.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                else
                    Timeouts++;
            }
            return samples.ToArray();
        }

        public void Dispose()
        {
            _link.Dispose();
            _request.Dispose();
            _reply.Dispose();
            _context.Dispose();
            if (!_endpoint.HasExited)
                _endpoint.Kill();
            _endpoint.WaitForExit(5000);
            _endpoint.Dispose();
            if (_ipcPrefix is not null)
                foreach (var suffix in new[] { "-state", "-command", "-control", "-echo" })
                    File.Delete(_ipcPrefix + suffix);
        }
    }
}
