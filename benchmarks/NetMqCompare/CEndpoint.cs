// d. Interop with the C reference arm (firmware-interfaces/endpoint, .native/bin/rr-arm-endpoint) in its own
// process over tcp: a NetMQ runtime doing the real protocol-2 handshake (HELLO, CLAIM, ENABLE through a REQ),
// sealed COMMANDs on a PUB and STATEs on a SUB, beside the project's ZmqArmLink on a second endpoint process;
// the two alternate exchange by exchange.
using System.Diagnostics;
using NetMQ;
using NetMQ.Sockets;
using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Zmq;
using ZmqSocketType = RobotRuntime.Transport.Zmq.ZmqSocketType;

namespace NetMqBench;

sealed class NetMqFirmwareLink : IDisposable
{
    readonly RequestSocket _control = new();
    readonly SubscriberSocket _state = new();
    readonly PublisherSocket _command = new();
    readonly byte[] _buffer = new byte[FirmwareCodec.MaxFrame];
    readonly byte[] _key = new byte[FirmwareCodec.KeySize];
    readonly byte[] _secret;
    readonly uint _clientId = (uint)Random.Shared.Next(1, int.MaxValue);
    Msg _msg;
    uint _session, _commandSeq, _controlSeq;
    ArmState _latest;
    long _latestArrival;
    public long StatesRejected;

    public NetMqFirmwareLink(string state, string command, string control, byte[] secret, int hwm)
    {
        _secret = secret;
        NetMqSend.Configure(_state, hwm);
        _state.SubscribeToAnyTopic();
        _state.Connect(state);
        NetMqSend.Configure(_command, hwm);
        _command.Connect(command);
        _control.Options.Linger = TimeSpan.Zero;
        _control.Options.MaxMsgSize = FirmwareCodec.SocketMaxMessage;
        _control.Connect(control);
        _msg.InitEmpty();
    }

    static ulong Now() => (ulong)Stopwatch.GetTimestamp();   // Stopwatch is ns here

    byte[] Exchange(int length, string what)
    {
        _control.SendFrame(_buffer, length);
        if (!_control.TryReceiveFrameBytes(TimeSpan.FromSeconds(3), out var reply))
            throw new InvalidOperationException($"no reply to {what}");
        return reply;
    }

    /// <summary>HELLO, CLAIM, ENABLE (setup; allocates).</summary>
    public void Handshake()
    {
        var deadline = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
        while (_latestArrival == 0 && Stopwatch.GetTimestamp() < deadline) { Pump(); Thread.Sleep(5); }
        var reply = Exchange(FirmwareCodec.EncodeHello(_buffer, ++_controlSeq, Now(), new HelloMessage(FirmwareCodec.Version, FirmwareCodec.Version, _clientId)), "hello");
        if (FirmwareCodec.DecodeDescription(reply, out _, out var description, out var claim) != FrameStatus.Ok || description is null)
            throw new InvalidOperationException("bad DESCRIPTION");
        _session = description.Session;
        _commandSeq = Math.Max(_commandSeq, claim.LastCommandSequence);
        _controlSeq = Math.Max(_controlSeq, claim.LastControlSequence);
        FirmwareCodec.ControllerKey(_secret, _session, _clientId, _key);
        reply = Exchange(FirmwareCodec.EncodeClaim(_buffer, ++_controlSeq, Now(), new ClaimMessage(_session, _clientId, false), _key), "claim");
        if (FirmwareCodec.DecodeAck(reply, out _, out var ack) != FrameStatus.Ok || ack.Result != AckResult.Ok)
            throw new InvalidOperationException($"claim: {ack.Result}");
        reply = Exchange(FirmwareCodec.EncodeSessionRequest(_buffer, FirmwareMessageType.Enable, ++_controlSeq, Now(), _session, _key), "enable");
        if (FirmwareCodec.DecodeAck(reply, out _, out ack) != FrameStatus.Ok || ack.Result != AckResult.Ok)
            throw new InvalidOperationException($"enable: {ack.Result}");
    }

    void Accept(ReadOnlySpan<byte> frame)
    {
        if (FirmwareCodec.DecodeState(frame, out _, out var st) != FrameStatus.Ok) { StatesRejected++; return; }
        _latest = st;
        _latestArrival = Stopwatch.GetTimestamp();
    }

    /// <summary>Drains every STATE that has arrived, keeping the newest (TryReceive(ref msg, TimeSpan.Zero)).</summary>
    public void Pump()
    {
        while (_state.TryReceive(ref _msg, TimeSpan.Zero)) Accept(_msg.Slice());
    }

    public uint Send(in ArmCommand command)
    {
        Pump();
        var seq = ++_commandSeq;
        var now = Stopwatch.GetTimestamp();
        var expires = _latest.ArmTimeNanoseconds + (ulong)(now - _latestArrival) + 100_000_000UL;
        var length = FirmwareCodec.EncodeCommand(_buffer, seq, (ulong)now, _session, expires, command, _key);
        NetMqSend.Send(_command, _buffer.AsSpan(0, length));
        return seq;
    }

    public bool WaitFor(uint seq, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_state.TryReceive(ref _msg, TimeSpan.FromMilliseconds(100)))
            {
                Accept(_msg.Slice());
                if (_latest.LastCommandSequence >= seq) return true;
            }
        }
        return false;
    }

    public void Dispose() { _msg.Close(); _control.Dispose(); _state.Dispose(); _command.Dispose(); }
}

static class CEndpoint
{
    // The C reference arm scripts/bootstrap builds: .native/bin of the repository this program is in.
    static readonly string EndpointPath = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, FindRepository(), ".native", "bin", "rr-arm-endpoint"));

    static string FindRepository()
    {
        for (var folder = new DirectoryInfo(Environment.CurrentDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "RobotRuntime.sln")))
                return folder.FullName;
        throw new InvalidOperationException("run from inside the repository (RobotRuntime.sln above the current folder)");
    }

    static string FreeTcp()
    {
        using var context = ZmqContext.Create();
        using var probe = ZmqSocket.Create(context, ZmqSocketType.Reply);
        probe.Bind("tcp://127.0.0.1:*");
        return probe.LastEndpoint;
    }

    static (Process, string state, string command, string control) Start(string keyFile)
    {
        var (state, command, control) = (FreeTcp(), FreeTcp(), FreeTcp());
        var start = new ProcessStartInfo(EndpointPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--key", keyFile, "--state", state, "--command", command, "--control", control, "--joints", "7", "--rate", "500", "--watchdog-ms", "60000", "--quiet" })
            start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        process.BeginErrorReadLine();
        var ready = process.StandardOutput.ReadLine();
        if (ready is null || !ready.Contains("ready", StringComparison.Ordinal))
            throw new InvalidOperationException("rr-arm-endpoint did not start");
        return (process, state, command, control);
    }

    public static void Run(int exchanges, int hwm)
    {
        if (!File.Exists(EndpointPath)) { Console.WriteLine($"d. skipped: {EndpointPath} missing"); return; }
        var keyFile = Path.Combine("/tmp/netmqbench", $"arm-{Guid.NewGuid():N}.key");
        var secret = ArmKeyFile.Create(keyFile);
        var (p1, s1, c1, k1) = Start(keyFile);
        var (p2, s2, c2, k2) = Start(keyFile);
        File.Delete(keyFile);
        try
        {
            using var link = new ZmqArmLink(new ZmqArmLinkSettings { StateAddress = s1, CommandAddress = c1, ControlAddress = k1, LinkTimeout = TimeSpan.FromSeconds(2), Secret = secret });
            using var net = new NetMqFirmwareLink(s2, c2, k2, secret, hwm);
            var deadline = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
            while (link.Health.Status != ArmLinkStatus.Up && Stopwatch.GetTimestamp() < deadline) Thread.Sleep(5);
            var hs = link.Handshake(TimeSpan.FromSeconds(5));
            var en = link.Request(ArmControlRequest.Enable, TimeSpan.FromSeconds(5));
            if (!hs.Succeeded || !en.Succeeded) throw new InvalidOperationException($"ZmqArmLink: {hs.Detail} {en.Detail}");
            net.Handshake();

            var linkUs = new List<double>(exchanges); var netUs = new List<double>(exchanges);
            long linkLost = 0, netLost = 0, linkAlloc = 0, netAlloc = 0;
            var command = ArmCommand.JointPositions([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], 0.5);
            Exception? error = null;
            var t = new Thread(() =>
            {
                try
                {
                    for (var i = 0; i < 1000 + exchanges; i++)
                    {
                        var record = i >= 1000;
                        command.Values[0] = i % 2 == 0 ? 0.1 : 0.2;
                        // the project's link
                        var a0 = GC.GetAllocatedBytesForCurrentThread();
                        var start = Stopwatch.GetTimestamp();
                        var status = link.Send(command, out var sent);
                        var seen = false;
                        if (status is ArmSendStatus.Sent or ArmSendStatus.SentClipped)
                        {
                            var end = start + Stopwatch.Frequency / 2;
                            while (Stopwatch.GetTimestamp() < end)
                            {
                                link.WaitForState(TimeSpan.FromMilliseconds(100));
                                if (link.TryGetLatestState(TimeSpan.MaxValue, out var st, out _) && st.LastCommandSequence == sent.Sequence) { seen = true; break; }
                            }
                        }
                        var us = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                        if (record) { linkAlloc += GC.GetAllocatedBytesForCurrentThread() - a0; if (seen) linkUs.Add(us); else linkLost++; }
                        // NetMQ
                        a0 = GC.GetAllocatedBytesForCurrentThread();
                        start = Stopwatch.GetTimestamp();
                        var seq = net.Send(command);
                        seen = net.WaitFor(seq, TimeSpan.FromMilliseconds(500));
                        us = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                        if (record) { netAlloc += GC.GetAllocatedBytesForCurrentThread() - a0; if (seen) netUs.Add(us); else netLost++; }
                    }
                }
                catch (Exception e) { error = e; }
            }) { Name = "runtime-d" };
            t.Start(); t.Join();
            if (error is not null) throw error;
            linkUs.Sort(); netUs.Sort();
            Console.WriteLine();
            Console.WriteLine($"== d. C reference arm (rr-arm-endpoint, separate process, 7 joints, 500 Hz, tcp): command -> STATE echo, {exchanges} exchanges each, alternating");
            Console.WriteLine($"{"runtime",-48} {"median",8} {"p99",8} {"p99.9",8} {"lost",5} {"B/exchange (runtime thread)",28}");
            Console.WriteLine($"{"ZmqArmLink (libzmq binding, CONFLATE)",-48} {Result.Pct(linkUs, 50),8:F1} {Result.Pct(linkUs, 99),8:F1} {Result.Pct(linkUs, 99.9),8:F1} {linkLost,5} {linkAlloc / (double)exchanges,28:F2}");
            Console.WriteLine($"{$"NetMQ REQ+SUB+PUB, HWM={hwm}, FirmwareCodec",-48} {Result.Pct(netUs, 50),8:F1} {Result.Pct(netUs, 99),8:F1} {Result.Pct(netUs, 99.9),8:F1} {netLost,5} {netAlloc / (double)exchanges,28:F2}");
            Console.WriteLine($"   p99 NetMQ/link {Result.Pct(netUs, 99) / Result.Pct(linkUs, 99):F2}; NetMQ states rejected by FirmwareCodec: {net.StatesRejected}; link health: {link.Health}");
        }
        finally
        {
            foreach (var p in new[] { p1, p2 }) { if (!p.HasExited) p.Kill(); p.WaitForExit(5000); p.Dispose(); }
            NetMQConfig.Cleanup(block: true);
        }
    }
}
