// NetMQ 4.0.4.5 vs the project's libzmq 4.3.4 binding (RobotRuntime.Transport.Zmq), side by side in one process.
//
//   a. command -> state round trip over tcp loopback (arm: SUB(command) + PUB(state), echoing the newest
//      command's sequence into its next STATE frame; also publishing STATE at 500 Hz)
//   b. bytes allocated per cycle (send command, drain newest state with non-blocking receives), per thread
//      and process-wide, for NetMQ's buffer/counter pool choices
//   c. latest-only: arm publishes at 500 Hz, runtime drains every 40 ms; age and sequence lag of what it reads
//
// Rounds alternate the order: odd rounds run libzmq first, even rounds NetMQ first.
// Frames follow firmware-interfaces/PROTOCOL.md's layout and sizes for a 7-joint arm:
// STATE 24 + (96 + 24*7) + 4 = 292 B, COMMAND 24 + (40 + 8*7) + 4 = 124 B. The transport is what is measured,
// so frames carry the header fields the benchmark needs and no CRC/HMAC.
//
// Usage: dotnet run -c Release -- [--rounds N] [--quick]

using System.Buffers.Binary;
using System.Diagnostics;
using NetMQ;
using NetMQ.Core.Utils;
using NetMQ.Sockets;
using RobotRuntime.Transport.Zmq;
using ZmqSocketType = RobotRuntime.Transport.Zmq.ZmqSocketType;

namespace NetMqBench;

static class Frame
{
    public const int StateSize = 292, CommandSize = 124, MaxMessage = 2104;
    const uint Session = 0x5E551001;

    static void Header(Span<byte> f, ushort type, uint seq, int payload, long ts)
    {
        "RRFW"u8.CopyTo(f);
        BinaryPrimitives.WriteUInt16LittleEndian(f[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(f[6..], type);
        BinaryPrimitives.WriteUInt32LittleEndian(f[8..], seq);
        BinaryPrimitives.WriteInt32LittleEndian(f[12..], payload);
        BinaryPrimitives.WriteInt64LittleEndian(f[16..], ts);
    }

    public static byte[] NewBuffer(int size)
    {
        var b = new byte[size];
        for (var i = 0; i < size; i++) b[i] = (byte)(i * 7);
        return b;
    }

    public static void WriteState(Span<byte> f, uint seq, uint lastCommand, long ts)
    {
        Header(f, 3, seq, StateSize - 28, ts);
        BinaryPrimitives.WriteUInt32LittleEndian(f[24..], Session);
        BinaryPrimitives.WriteUInt32LittleEndian(f[28..], lastCommand);
    }

    public static void WriteCommand(Span<byte> f, uint seq, long ts)
    {
        Header(f, 4, seq, CommandSize - 28, ts);
        BinaryPrimitives.WriteUInt32LittleEndian(f[24..], Session);
    }

    public static uint Seq(ReadOnlySpan<byte> f) => f.Length >= 12 ? BinaryPrimitives.ReadUInt32LittleEndian(f[8..]) : 0;

    public static StateInfo ReadState(ReadOnlySpan<byte> f) => f.Length < 32 ? default : new StateInfo(
        BinaryPrimitives.ReadUInt32LittleEndian(f[8..]), BinaryPrimitives.ReadUInt32LittleEndian(f[28..]),
        BinaryPrimitives.ReadInt64LittleEndian(f[16..]), f.Length);
}

readonly record struct StateInfo(uint Seq, uint LastCommand, long Timestamp, int Size);

interface IArmEnd : IDisposable
{
    string StateEndpoint { get; }
    string CommandEndpoint { get; }
    /// <summary>Receives one command, waiting up to timeoutMs (0: just look).</summary>
    bool ReceiveCommand(int timeoutMs, out uint seq);
    bool PublishState(ReadOnlySpan<byte> frame);
}

interface IRuntimeEnd : IDisposable
{
    bool SendCommand(ReadOnlySpan<byte> frame);
    /// <summary>Receives one state, waiting up to timeoutMs (0: just look).</summary>
    bool ReceiveState(int timeoutMs, out StateInfo info);
}

// ---- the project's libzmq binding, configured as ZmqArmLink / PROTOCOL.md do ---------------------------------

sealed class ZmqArm : IArmEnd
{
    readonly ZmqContext _ctx = ZmqContext.Create();
    readonly ZmqSocket _pub, _sub;
    readonly ZmqMessage _msg = new();

    public ZmqArm(bool conflate = true)
    {
        _pub = ZmqSocket.Create(_ctx, ZmqSocketType.Publisher);
        _pub.SetConflate(conflate);                   // PROTOCOL.md §1: CONFLATE on both ends
        _pub.Bind("tcp://127.0.0.1:*");
        StateEndpoint = _pub.LastEndpoint;
        _sub = ZmqSocket.Create(_ctx, ZmqSocketType.Subscriber);
        _sub.SetConflate(conflate);
        _sub.SetMaxMessageSize(Frame.MaxMessage);
        _sub.Subscribe([]);
        _sub.Bind("tcp://127.0.0.1:*");
        CommandEndpoint = _sub.LastEndpoint;
    }

    public string StateEndpoint { get; }
    public string CommandEndpoint { get; }

    public bool ReceiveCommand(int timeoutMs, out uint seq)
    {
        if (_sub.TryReceive(_msg) == ZmqReceiveStatus.Received
            || (timeoutMs > 0 && _sub.WaitReadable(timeoutMs) && _sub.TryReceive(_msg) == ZmqReceiveStatus.Received))
        {
            seq = Frame.Seq(_msg.Data);
            return true;
        }
        seq = 0;
        return false;
    }

    public bool PublishState(ReadOnlySpan<byte> frame) => _pub.TrySend(frame) == ZmqSendStatus.Sent;

    public void Dispose() { _sub.Dispose(); _pub.Dispose(); _msg.Dispose(); _ctx.Dispose(); }
}

sealed class ZmqRuntime : IRuntimeEnd
{
    readonly ZmqContext _ctx = ZmqContext.Create();
    readonly ZmqSocket _state, _command;
    readonly ZmqMessage _msg = new();

    public ZmqRuntime(string stateEndpoint, string commandEndpoint, bool conflate = true)
    {
        // As ZmqArmLink.OpenStateSocket and its command socket.
        _state = ZmqSocket.Create(_ctx, ZmqSocketType.Subscriber);
        _state.SetConflate(conflate);
        _state.SetMaxMessageSize(Frame.MaxMessage);
        _state.SetReconnectInterval(20, 200);
        _state.Subscribe([]);
        _state.Connect(stateEndpoint);
        _command = ZmqSocket.Create(_ctx, ZmqSocketType.Publisher);
        _command.SetConflate(conflate);
        _command.SetMaxMessageSize(Frame.MaxMessage);
        _command.SetReconnectInterval(20, 200);
        _command.Connect(commandEndpoint);
    }

    public bool SendCommand(ReadOnlySpan<byte> frame) => _command.TrySend(frame) == ZmqSendStatus.Sent;

    public bool ReceiveState(int timeoutMs, out StateInfo info)
    {
        if (_state.TryReceive(_msg) == ZmqReceiveStatus.Received
            || (timeoutMs > 0 && _state.WaitReadable(timeoutMs) && _state.TryReceive(_msg) == ZmqReceiveStatus.Received))
        {
            info = Frame.ReadState(_msg.Data);
            return true;
        }
        info = default;
        return false;
    }

    public void Dispose() { _state.Dispose(); _command.Dispose(); _msg.Dispose(); _ctx.Dispose(); }
}

// ---- NetMQ: no CONFLATE; high-water marks, Msg struct reused, TryReceive(ref msg, TimeSpan.Zero) --------------

static class NetMqSend
{
    /// <summary>NetMQ's allocation-free send path: a pooled Msg (BufferPool.Take + AtomicCounterPool.Take), copy, TrySend.</summary>
    public static bool Send(NetMQSocket socket, ReadOnlySpan<byte> frame)
    {
        var msg = new Msg();
        msg.InitPool(frame.Length);
        frame.CopyTo(msg.Slice());
        if (socket.TrySend(ref msg, TimeSpan.Zero, false))
            return true;            // ownership moved to the pipe; msg is now empty
        msg.Close();
        return false;
    }

    public static TimeSpan Timeout(int ms) => ms <= 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(ms);

    public static void Configure(NetMQSocket s, int hwm)
    {
        s.Options.Linger = TimeSpan.Zero;
        s.Options.SendHighWatermark = hwm;
        s.Options.ReceiveHighWatermark = hwm;
        s.Options.MaxMsgSize = Frame.MaxMessage;
    }
}

sealed class NetMqArm : IArmEnd
{
    readonly PublisherSocket _pub = new();
    readonly SubscriberSocket _sub = new();
    Msg _msg;

    public NetMqArm(int hwm)
    {
        NetMqSend.Configure(_pub, hwm);
        StateEndpoint = $"tcp://127.0.0.1:{_pub.BindRandomPort("tcp://127.0.0.1")}";
        NetMqSend.Configure(_sub, hwm);
        _sub.SubscribeToAnyTopic();
        CommandEndpoint = $"tcp://127.0.0.1:{_sub.BindRandomPort("tcp://127.0.0.1")}";
        _msg.InitEmpty();
    }

    public string StateEndpoint { get; }
    public string CommandEndpoint { get; }

    public bool ReceiveCommand(int timeoutMs, out uint seq)
    {
        if (_sub.TryReceive(ref _msg, NetMqSend.Timeout(timeoutMs)))
        {
            seq = Frame.Seq(_msg.Slice());
            return true;
        }
        seq = 0;
        return false;
    }

    public bool PublishState(ReadOnlySpan<byte> frame) => NetMqSend.Send(_pub, frame);

    public void Dispose() { _msg.Close(); _sub.Dispose(); _pub.Dispose(); }
}

sealed class NetMqRuntime : IRuntimeEnd
{
    readonly SubscriberSocket _state = new();
    readonly PublisherSocket _command = new();
    Msg _msg;

    public NetMqRuntime(string stateEndpoint, string commandEndpoint, int hwm)
    {
        NetMqSend.Configure(_state, hwm);
        _state.Options.ReconnectInterval = TimeSpan.FromMilliseconds(20);
        _state.Options.ReconnectIntervalMax = TimeSpan.FromMilliseconds(200);
        _state.SubscribeToAnyTopic();
        _state.Connect(stateEndpoint);
        NetMqSend.Configure(_command, hwm);
        _command.Options.ReconnectInterval = TimeSpan.FromMilliseconds(20);
        _command.Options.ReconnectIntervalMax = TimeSpan.FromMilliseconds(200);
        _command.Connect(commandEndpoint);
        _msg.InitEmpty();
    }

    public bool SendCommand(ReadOnlySpan<byte> frame) => NetMqSend.Send(_command, frame);

    public bool ReceiveState(int timeoutMs, out StateInfo info)
    {
        if (_state.TryReceive(ref _msg, NetMqSend.Timeout(timeoutMs)))
        {
            info = Frame.ReadState(_msg.Slice());
            return true;
        }
        info = default;
        return false;
    }

    public void Dispose() { _msg.Close(); _state.Dispose(); _command.Dispose(); }
}

// ---- NetMQ pools ---------------------------------------------------------------------------------------------

/// <summary>Recycles 512 B and 4 KiB arrays (lock + preallocated stacks: no allocation once warm).</summary>
sealed class RecyclingBufferPool : IBufferPool
{
    const int Small = 512, Large = 4096, Depth = 4096;
    readonly Stack<byte[]> _small = new(Depth), _large = new(Depth);
    readonly Lock _gate = new();

    public byte[] Take(int size)
    {
        if (size > Large) return new byte[size];
        var stack = size <= Small ? _small : _large;
        lock (_gate)
            if (stack.TryPop(out var b)) return b;
        return new byte[size <= Small ? Small : Large];
    }

    public void Return(byte[] buffer)
    {
        var stack = buffer.Length == Small ? _small : buffer.Length == Large ? _large : null;
        if (stack is null) return;
        lock (_gate)
            if (stack.Count < Depth) stack.Push(buffer);
    }

    public void Dispose() { }
}

/// <summary>
/// Recycles Msg reference counters. Only safe while no pooled Msg is shared (a PUB with one subscriber, no
/// Msg.Copy): NetMQ's Msg.Close returns the counter even when other copies still hold it.
/// </summary>
sealed class RecyclingCounterPool : IAtomicCounterPool
{
    const int Depth = 4096;
    readonly Stack<AtomicCounter> _stack = new(Depth);
    readonly Lock _gate = new();

    public AtomicCounter Take()
    {
        lock (_gate)
            if (_stack.TryPop(out var c)) return c;
        return new AtomicCounter();
    }

    public void Return(AtomicCounter counter)
    {
        lock (_gate)
            if (_stack.Count < Depth) _stack.Push(counter);
    }

    public void Dispose() { }
}

enum Pools { Default, BufferManager, BufferManagerAndCounters, Custom }

// ---- the arm thread ------------------------------------------------------------------------------------------

sealed class ArmRunner
{
    readonly IArmEnd _arm;
    readonly long _periodTicks;
    readonly Thread _thread;
    volatile bool _stop;
    /// <summary>Whether the arm publishes its periodic STATE (it always answers commands).</summary>
    public volatile bool Active = true;
    volatile int _markRequested, _markDone;
    readonly long[] _marks = new long[8];
    long _latestSeq;
    public long Published, Commands, Dropped;
    /// <summary>Bytes the arm thread allocated in each step: waiting for a command that did not come, receiving commands, publishing.</summary>
    public long AllocWaitIdle, AllocReceive, AllocPublish;

    public ArmRunner(IArmEnd arm, int rateHz)
    {
        _arm = arm;
        _periodTicks = Stopwatch.Frequency / rateHz;
        _thread = new Thread(Run) { IsBackground = true, Name = "arm" };
    }

    public long LatestSeq => Volatile.Read(ref _latestSeq);

    public void Start() => _thread.Start();

    public void Stop() { _stop = true; _thread.Join(); }

    /// <summary>Asks the arm thread to record its allocated-bytes counter in slot k, and waits for it.</summary>
    public long Mark(int k)
    {
        _markRequested = k;
        var spin = new SpinWait();
        while (_markDone != k) spin.SpinOnce();
        return _marks[k];
    }

    void Run()
    {
        var frame = Frame.NewBuffer(Frame.StateSize);
        uint stateSeq = 0, lastCommand = 0;
        var next = Stopwatch.GetTimestamp() + _periodTicks;
        while (!_stop)
        {
            var req = _markRequested;
            if (req != _markDone)
            {
                _marks[req] = GC.GetAllocatedBytesForCurrentThread();
                _markDone = req;
            }
            if (!Active)
            {
                if (_arm.ReceiveCommand(5, out var s))
                {
                    Commands++;
                    while (_arm.ReceiveCommand(0, out var newer)) { s = newer; Commands++; }
                    lastCommand = s;
                    Publish(frame, ++stateSeq, lastCommand);
                }
                next = Stopwatch.GetTimestamp() + _periodTicks;
                continue;
            }
            var remaining = next - Stopwatch.GetTimestamp();
            var timeoutMs = remaining <= 0 ? 0 : (int)Math.Max(1, (remaining * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency);
            timeoutMs = Math.Min(timeoutMs, 5);
            var before = GC.GetAllocatedBytesForCurrentThread();
            if (_arm.ReceiveCommand(timeoutMs, out var seq))
            {
                Commands++;
                while (_arm.ReceiveCommand(0, out var newer)) { seq = newer; Commands++; }   // newest only
                AllocReceive += GC.GetAllocatedBytesForCurrentThread() - before;
                lastCommand = seq;
                Publish(frame, ++stateSeq, lastCommand);   // the reference arm publishes right after applying a command
            }
            else
                AllocWaitIdle += GC.GetAllocatedBytesForCurrentThread() - before;
            var now = Stopwatch.GetTimestamp();
            if (now >= next)
            {
                Publish(frame, ++stateSeq, lastCommand);
                next += _periodTicks;
                if (now - next > _periodTicks) next = now + _periodTicks;
            }
        }
    }

    void Publish(byte[] frame, uint seq, uint lastCommand)
    {
        Frame.WriteState(frame, seq, lastCommand, Stopwatch.GetTimestamp());
        var before = GC.GetAllocatedBytesForCurrentThread();
        if (_arm.PublishState(frame)) Published++; else Dropped++;
        AllocPublish += GC.GetAllocatedBytesForCurrentThread() - before;
        Volatile.Write(ref _latestSeq, seq);
    }
}

// ---- results -------------------------------------------------------------------------------------------------

sealed class Result
{
    public readonly List<double> Samples = new();          // pooled over rounds (µs for a, ms for c)
    public readonly List<double> RoundP99 = new();
    public readonly List<double> RoundMedian = new();
    public readonly List<double> Lags = new();
    public readonly List<double> RoundRatio = new();
    public long Misses, Cycles, RtAlloc, ArmAlloc, ProcAlloc, Gen0, Empty, Drained, Reads;
    public double ArmRateSum; public int ArmRateN;
    public double Seconds, Pause; public long ArmWait, ArmRecv, ArmPub;

    public static double Pct(List<double> sorted, double p)
    {
        if (sorted.Count == 0) return double.NaN;
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Count) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
    }
}

sealed class AllocListener : System.Diagnostics.Tracing.EventListener
{
    public readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> Counts = new();

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1);
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (e.EventName is null || !e.EventName.StartsWith("GCAllocationTick") || e.PayloadNames is null) return;
        var i = e.PayloadNames.IndexOf("TypeName");
        var name = i >= 0 ? e.Payload![i]?.ToString() ?? "?" : "?";
        Counts.AddOrUpdate(name, 1, (_, n) => n + 1);
    }
}

static class Program
{
    static bool Diag, AllocTypes, AllocOnly;
    static int CExchanges = 5000;
    static int Rounds = 5, RoundTrips = 20_000, Warm = 2_000, AllocCycles = 10_000, Reads = 100, ReadWarm = 5;
    const int ArmRate = 500, ReadPeriodMs = 40;

    record Config(string Name, bool NetMqRuntime, bool NetMqArm, int Hwm, Pools Pools = Pools.Custom, bool ArmConflate = true, bool RuntimeConflate = true);

    static readonly Dictionary<string, Result> Results = new();
    static Result R(string key) => Results.TryGetValue(key, out var r) ? r : Results[key] = new Result();

    static int Main(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--rounds") Rounds = int.Parse(args[++i]);
            if (args[i] == "--diag") Diag = true;
            if (args[i] == "--alloc-only") AllocOnly = true;
            if (args[i] == "--c-only") { SetPools(Pools.Custom); CEndpoint.Run(CExchanges, 0); return 0; }
            if (args[i] == "--alloc-types") AllocTypes = true;
            if (args[i] == "--quick") { CExchanges = 1000; RoundTrips = 2000; Warm = 500; AllocCycles = 2000; Reads = 20; }
        }
        NetMQConfig.ThreadPoolSize = 2;   // libzmq side: one context (one I/O thread) per end, so two in all
        Console.WriteLine($"libzmq {ZmqLibrary.Version} via RobotRuntime.Transport; NetMQ {typeof(NetMQSocket).Assembly.GetName().Version}; " +
                          $".NET {Environment.Version}; {Environment.ProcessorCount} cores; Stopwatch {Stopwatch.Frequency} Hz; GC server={System.Runtime.GCSettings.IsServerGC}");
        Console.WriteLine($"rounds {Rounds}, round trips {RoundTrips}/config/round after {Warm} warm-up, alloc cycles {AllocCycles}, reads {Reads} every {ReadPeriodMs} ms at {ArmRate} Hz publish");

        var lib = new Config("libzmq binding <-> libzmq binding (CONFLATE both ends)", false, false, 0);
        Config[] rtNet =
        [
            new("NetMQ <-> NetMQ, HWM=1", true, true, 1),
            new("NetMQ <-> NetMQ, HWM=1000 (default)", true, true, 1000),
            new("NetMQ <-> NetMQ, HWM=0 (unbounded)", true, true, 0),
            new("NetMQ runtime HWM=1 <-> libzmq arm CONFLATE", true, false, 1),
            new("NetMQ runtime HWM=0 <-> libzmq arm CONFLATE", true, false, 0),
        ];
        Config[] allocNet =
        [
            new("NetMQ, HWM=1000, default pools (GCBufferPool, GCAtomicCounterPool)", true, true, 1000, Pools.Default),
            new("NetMQ, HWM=1000, SetBufferManagerBufferPool(1 MiB, 4096)", true, true, 1000, Pools.BufferManager),
            new("NetMQ, HWM=1000, BufferManager + recycling AtomicCounterPool", true, true, 1000, Pools.BufferManagerAndCounters),
            new("NetMQ, HWM=1000, recycling IBufferPool + AtomicCounterPool", true, true, 1000, Pools.Custom),
            new("NetMQ, HWM=1, recycling IBufferPool + AtomicCounterPool", true, true, 1, Pools.Custom),
            new("NetMQ, HWM=0, recycling IBufferPool + AtomicCounterPool", true, true, 0, Pools.Custom),
            new("NetMQ runtime HWM=0 <-> libzmq arm, recycling pools", true, false, 0, Pools.Custom),
        ];

        if (AllocTypes)
        {
            // Which types NetMQ allocates process-wide (GC AllocationTick: one sample per ~100 KB allocated).
            using var listener = new AllocListener();
            AllocCycles = 100_000;
            AllocRun(new("NetMQ <-> NetMQ, HWM=0, recycling pools", true, true, 0, Pools.Custom));
            Thread.Sleep(1000);
            foreach (var (type, count) in listener.Counts.OrderByDescending(kv => kv.Value).Take(15))
                Console.WriteLine($"  {count,6} ticks  {type}");
            return 0;
        }
        if (Diag)
        {
            Config[] d =
            [
                new("libzmq CONFLATE both ends", false, false, 0),
                new("libzmq no CONFLATE", false, false, 0, ArmConflate: false, RuntimeConflate: false),
            ];
            for (var round = 1; round <= Rounds; round++) RoundTripRound(d, round);
            return 0;
        }
        for (var round = 1; round <= Rounds; round++)
        {
            var libFirst = round % 2 == 1;
            Console.WriteLine($"-- round {round}: {(libFirst ? "libzmq first" : "NetMQ first")}");
            Console.WriteLine("   load average " + File.ReadAllText("/proc/loadavg").Trim());
            if (!AllocOnly) RoundTripRound(Order(libFirst, lib, rtNet).ToArray(), round);
            foreach (var c in Order(libFirst, lib, allocNet)) AllocRun(c);
            if (!AllocOnly) LatestRun(c: null!, configs: Order(libFirst, lib, rtNet));
        }

        Report(lib, rtNet, allocNet);
        if (AllocOnly) return 0;
        SetPools(Pools.Custom);
        CEndpoint.Run(CExchanges, hwm: 0);
        SetPools(Pools.Default);
        NetMQConfig.Cleanup(block: true);
        return 0;
    }

    static IEnumerable<Config> Order(bool libFirst, Config lib, Config[] net) =>
        libFirst ? new[] { lib }.Concat(net) : net.Concat(new[] { lib });

    static Pools _currentPools = (Pools)(-1);

    static void SetPools(Pools pools)
    {
        if (pools == _currentPools) return;
        NetMQConfig.Cleanup(block: true);      // no socket, pipe or message is alive while the pools change
        switch (pools)
        {
            case Pools.Default:
                BufferPool.SetGCBufferPool(); AtomicCounterPool.SetGCCounterPool(); break;
            case Pools.BufferManager:
                BufferPool.SetBufferManagerBufferPool(1 << 20, 4096); AtomicCounterPool.SetGCCounterPool(); break;
            case Pools.BufferManagerAndCounters:
                BufferPool.SetBufferManagerBufferPool(1 << 20, 4096); AtomicCounterPool.SetCustomCounterPool(new RecyclingCounterPool()); break;
            case Pools.Custom:
                BufferPool.SetCustomBufferPool(new RecyclingBufferPool()); AtomicCounterPool.SetCustomCounterPool(new RecyclingCounterPool()); break;
        }
        _currentPools = pools;
    }

    static (IArmEnd arm, IRuntimeEnd rt) Open(Config c)
    {
        if (c.NetMqRuntime || c.NetMqArm) SetPools(c.Pools);
        IArmEnd arm = c.NetMqArm ? new NetMqArm(c.Hwm) : new ZmqArm(c.ArmConflate);
        IRuntimeEnd rt = c.NetMqRuntime ? new NetMqRuntime(arm.StateEndpoint, arm.CommandEndpoint, c.Hwm)
                                        : new ZmqRuntime(arm.StateEndpoint, arm.CommandEndpoint, c.RuntimeConflate);
        return (arm, rt);
    }

    static void Close(Config c, IArmEnd arm, IRuntimeEnd rt)
    {
        rt.Dispose();
        arm.Dispose();
        if (c.NetMqArm || c.NetMqRuntime) NetMQConfig.Cleanup(block: true);
        _currentPools = c.NetMqArm || c.NetMqRuntime ? (Pools)(-1) : _currentPools;
    }

    static void OnThread(string name, Action body)
    {
        Exception? error = null;
        var t = new Thread(() => { try { body(); } catch (Exception e) { error = e; } }) { Name = name };
        t.Start();
        t.Join();
        if (error is not null) throw new Exception($"{name} failed", error);
    }

    static int CeilMs(long ticks) => ticks <= 0 ? 0 : (int)Math.Max(1, (ticks * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency);

    // ---- a. round trip ---------------------------------------------------------------------------------------

    const int Block = 250, BlockWarm = 10;

    /// <summary>
    /// All configs of a round open at once; the runtime thread runs blocks of 1,000 round trips (after 20 unrecorded
    /// ones) on each config in turn, so that background load on this shared 2-core machine hits every config alike.
    /// Only the active config's arm publishes its periodic 500 Hz STATE.
    /// </summary>
    static void RoundTripRound(Config[] configs, int round)
    {
        var ends = configs.Select(Open).ToArray();
        var arms = ends.Select(e => new ArmRunner(e.arm, ArmRate) { Active = false }).ToArray();
        foreach (var a in arms) a.Start();
        var n = configs.Length;
        var samples = configs.Select(_ => new List<double>(RoundTrips)).ToArray();
        var misses = new long[n]; var rtAlloc = new long[n]; var procAlloc = new long[n]; var armAlloc = new long[n]; var gen0 = new long[n];
        OnThread("runtime", () =>
        {
            var cmd = Frame.NewBuffer(Frame.CommandSize);
            var seqs = new uint[n];
            var timeout = Stopwatch.Frequency / 50; // 20 ms without the echo: the command (or every state after it) was lost

            void Run(int i, int count, bool record)
            {
                var rt = ends[i].rt;
                for (var j = 0; j < count; j++)
                {
                    var seq = ++seqs[i];
                    var t0 = Stopwatch.GetTimestamp();
                    Frame.WriteCommand(cmd, seq, t0);
                    rt.SendCommand(cmd);
                    var deadline = t0 + timeout;
                    var found = false;
                    while (true)
                    {
                        var remaining = deadline - Stopwatch.GetTimestamp();
                        if (remaining <= 0) break;
                        if (rt.ReceiveState(CeilMs(remaining), out var info) && info.LastCommand >= seq) { found = true; break; }
                    }
                    var t1 = Stopwatch.GetTimestamp();
                    if (!record) continue;
                    if (found) samples[i].Add((t1 - t0) * 1e6 / Stopwatch.Frequency);
                    else misses[i]++;
                }
            }

            for (var i = 0; i < n; i++) { arms[i].Active = true; Run(i, Warm, false); arms[i].Active = false; }
            var armStart = arms.Select(a => a.Mark(1)).ToArray();
            for (var b = 0; b < RoundTrips / Block; b++)
            {
                for (var i = 0; i < n; i++)
                {
                    arms[i].Active = true;
                    Run(i, BlockWarm, false);
                    var p0 = GC.GetTotalAllocatedBytes(true); var g0 = GC.CollectionCount(0);
                    var a0 = GC.GetAllocatedBytesForCurrentThread();
                    Run(i, Block, true);
                    rtAlloc[i] += GC.GetAllocatedBytesForCurrentThread() - a0;
                    procAlloc[i] += GC.GetTotalAllocatedBytes(true) - p0; gen0[i] += GC.CollectionCount(0) - g0;
                    arms[i].Active = false;
                }
            }
            for (var i = 0; i < n; i++) armAlloc[i] = arms[i].Mark(2) - armStart[i];
        });
        foreach (var a in arms) a.Stop();
        for (var i = 0; i < n; i++) { ends[i].rt.Dispose(); ends[i].arm.Dispose(); }
        NetMQConfig.Cleanup(block: true);
        _currentPools = (Pools)(-1);

        double libP99 = double.NaN;
        for (var i = 0; i < n; i++)
        {
            var c = configs[i];
            var list = samples[i]; list.Sort();
            var r = R("a|" + c.Name);
            r.Samples.AddRange(list);
            var p99 = Result.Pct(list, 99);
            if (!c.NetMqRuntime && !c.NetMqArm) libP99 = p99;
            r.RoundP99.Add(p99); r.RoundMedian.Add(Result.Pct(list, 50));
            r.Misses += misses[i]; r.Cycles += RoundTrips; r.RtAlloc += rtAlloc[i]; r.ArmAlloc += armAlloc[i]; r.ProcAlloc += procAlloc[i]; r.Gen0 += gen0[i];
        }
        for (var i = 0; i < n; i++)
        {
            var c = configs[i]; var r = R("a|" + c.Name); var list = samples[i];
            r.RoundRatio.Add(Result.Pct(list, 99) / libP99);
            Console.WriteLine($"  a {c.Name,-52} med {Result.Pct(list, 50),7:F1} p99 {Result.Pct(list, 99),7:F1} p99.9 {Result.Pct(list, 99.9),7:F1} us  p99/lib {Result.Pct(list, 99) / libP99,5:F2}  lost {misses[i]}  alloc/cycle rt {rtAlloc[i] / (double)RoundTrips:F2} arm {armAlloc[i] / (double)RoundTrips:F2} proc {procAlloc[i] / (double)RoundTrips:F1} B  gen0 {gen0[i]}");
        }
    }

    // ---- b. allocation with non-blocking drain ----------------------------------------------------------------

    static void AllocRun(Config c)
    {
        var (armEnd, rt) = Open(c);
        var arm = new ArmRunner(armEnd, ArmRate);
        arm.Start();
        var r = R("b|" + c.Name);
        long misses = 0, rtAlloc = 0, armAlloc = 0, procAlloc = 0, gen0 = 0, drained = 0;
        double seconds = 0; TimeSpan pause = default;
        OnThread("runtime", () =>
        {
            var cmd = Frame.NewBuffer(Frame.CommandSize);
            uint seq = 0;
            var timeout = Stopwatch.Frequency / 50;
            long a0 = 0, arm0 = 0, p0 = 0, s0 = 0; int g0 = 0;
            StateInfo newest = default;
            for (var i = 0; i < Warm + AllocCycles; i++)
            {
                if (i == Warm)
                {
                    arm0 = arm.Mark(1); p0 = GC.GetTotalAllocatedBytes(true); g0 = GC.CollectionCount(0);
                    pause = GC.GetTotalPauseDuration();
                    s0 = Stopwatch.GetTimestamp();
                    a0 = GC.GetAllocatedBytesForCurrentThread();
                }
                seq++;
                var t0 = Stopwatch.GetTimestamp();
                Frame.WriteCommand(cmd, seq, t0);
                rt.SendCommand(cmd);
                var found = false;
                var spin = new SpinWait();
                while (true)
                {
                    // One control cycle's worth of receiving: drain everything, keep the newest.
                    while (rt.ReceiveState(0, out var info))
                    {
                        newest = info;
                        if (i >= Warm) drained++;
                        if (info.LastCommand >= seq) found = true;
                    }
                    if (found || Stopwatch.GetTimestamp() - t0 > timeout) break;
                    spin.SpinOnce();
                }
                if (!found && i >= Warm) misses++;
            }
            rtAlloc = GC.GetAllocatedBytesForCurrentThread() - a0;
            seconds = (Stopwatch.GetTimestamp() - s0) / (double)Stopwatch.Frequency;
            armAlloc = arm.Mark(2) - arm0;
            procAlloc = GC.GetTotalAllocatedBytes(true) - p0;
            gen0 = GC.CollectionCount(0) - g0;
            pause = GC.GetTotalPauseDuration() - pause;
            GC.KeepAlive(newest);
        });
        arm.Stop();
        Close(c, armEnd, rt);
        r.Seconds += seconds; r.Pause += pause.TotalMilliseconds;
        r.ArmWait += arm.AllocWaitIdle; r.ArmRecv += arm.AllocReceive; r.ArmPub += arm.AllocPublish;
        r.Misses += misses; r.Cycles += AllocCycles; r.RtAlloc += rtAlloc; r.ArmAlloc += armAlloc; r.ProcAlloc += procAlloc; r.Gen0 += gen0; r.Drained += drained;
        Console.WriteLine($"  b {c.Name,-52} alloc/cycle rt {rtAlloc / (double)AllocCycles:F2} arm {armAlloc / (double)AllocCycles:F2} process {procAlloc / (double)AllocCycles:F1} B  gen0 {gen0}  states/cycle {drained / (double)AllocCycles:F2}  lost {misses}  {AllocCycles / seconds:F0} cycles/s  GC pause {pause.TotalMilliseconds:F1} ms  arm alloc wait/recv/pub {arm.AllocWaitIdle}/{arm.AllocReceive}/{arm.AllocPublish} B");
    }

    // ---- c. latest-only ----------------------------------------------------------------------------------------

    static void LatestRun(Config c, IEnumerable<Config> configs)
    {
        foreach (var each in configs) LatestRun(each);
    }

    static void LatestRun(Config c)
    {
        var (armEnd, rt) = Open(c);
        var arm = new ArmRunner(armEnd, ArmRate);
        arm.Start();
        var r = R("c|" + c.Name);
        var ages = new List<double>();
        var lags = new List<double>();
        long empty = 0, drained = 0, published0 = 0, published1 = 0; double armSeconds = 0;
        OnThread("runtime", () =>
        {
            StateInfo held = default;
            var have = false;
            var period = Stopwatch.Frequency * ReadPeriodMs / 1000;
            var next = Stopwatch.GetTimestamp() + period;
            long start = 0;
            for (var i = 0; i < ReadWarm + Reads; i++)
            {
                var wait = next - Stopwatch.GetTimestamp();
                if (wait > 0) Thread.Sleep(TimeSpan.FromTicks(wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency));
                next += period;
                if (i == ReadWarm) { published0 = arm.Published; start = Stopwatch.GetTimestamp(); }
                var n = 0;
                while (rt.ReceiveState(0, out var info)) { held = info; have = true; n++; }   // drain: keep the newest
                var now = Stopwatch.GetTimestamp();
                var latest = arm.LatestSeq;
                if (i < ReadWarm || !have) continue;
                if (n == 0) empty++;
                drained += n;
                ages.Add((now - held.Timestamp) * 1e3 / Stopwatch.Frequency);
                lags.Add(latest - held.Seq);
            }
            published1 = arm.Published;
            armSeconds = (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;
        });
        arm.Stop();
        Close(c, armEnd, rt);
        ages.Sort(); lags.Sort();
        r.Samples.AddRange(ages); r.Lags.AddRange(lags);
        r.RoundP99.Add(Result.Pct(ages, 99)); r.RoundMedian.Add(Result.Pct(ages, 50));
        r.Empty += empty; r.Drained += drained; r.Reads += ages.Count;
        r.ArmRateSum += (published1 - published0) / armSeconds; r.ArmRateN++;
        Console.WriteLine($"  c {c.Name,-52} age med {Result.Pct(ages, 50),8:F2} p99 {Result.Pct(ages, 99),8:F2} max {Result.Pct(ages, 100),8:F2} ms  lag med {Result.Pct(lags, 50)} max {Result.Pct(lags, 100)} frames  states/read {drained / (double)Math.Max(1, ages.Count):F1}  empty reads {empty}  arm {(published1 - published0) / armSeconds:F0} Hz");
    }

    // ---- report ------------------------------------------------------------------------------------------------

    static void Report(Config lib, Config[] rtNet, Config[] allocNet)
    {
        if (AllocOnly) goto allocation;
        Console.WriteLine();
        Console.WriteLine($"== a. command -> state round trip, us (pooled over {Rounds} rounds; per-round p99 range)");
        Console.WriteLine($"{"config",-52} {"median",8} {"p99",8} {"p99.9",8} {"round p99 range",17} {"lost",6} {"p99/lib",8} {"round p99/lib",14}");
        var libP99 = 0.0;
        foreach (var c in new[] { lib }.Concat(rtNet))
        {
            var r = R("a|" + c.Name);
            r.Samples.Sort();
            var p99 = Result.Pct(r.Samples, 99);
            if (c == lib) libP99 = p99;
            Console.WriteLine($"{c.Name,-52} {Result.Pct(r.Samples, 50),8:F1} {p99,8:F1} {Result.Pct(r.Samples, 99.9),8:F1} {r.RoundP99.Min(),8:F1}-{r.RoundP99.Max(),-8:F1} {r.Misses,6} {p99 / libP99,8:F2} {r.RoundRatio.Min(),6:F2}-{r.RoundRatio.Max(),-6:F2}");
        }
        Console.WriteLine($"   alloc during a (B/cycle): " + string.Join("; ", new[] { lib }.Concat(rtNet).Select(c =>
        {
            var r = R("a|" + c.Name);
            return $"{c.Name.Split(',')[0]}{(c.Hwm > 0 ? $" hwm{c.Hwm}" : "")}: rt {r.RtAlloc / (double)r.Cycles:F1} arm {r.ArmAlloc / (double)r.Cycles:F1} proc {r.ProcAlloc / (double)r.Cycles:F1}";
        })));

    allocation:
        Console.WriteLine();
        Console.WriteLine($"== b. bytes allocated per cycle (send + non-blocking drain), over {Rounds} x {AllocCycles} cycles");
        Console.WriteLine($"{"config",-72} {"runtime",8} {"arm",8} {"process",8} {"gen0/s",7} {"pause ms/s",10} {"lost",5}  arm B total: wait/recv/pub (whole run)");
        foreach (var c in new[] { lib }.Concat(allocNet))
        {
            var r = R("b|" + c.Name);
            Console.WriteLine($"{c.Name,-72} {r.RtAlloc / (double)r.Cycles,8:F2} {r.ArmAlloc / (double)r.Cycles,8:F2} {r.ProcAlloc / (double)r.Cycles,8:F1} {r.Gen0 / r.Seconds,7:F2} {r.Pause / r.Seconds,10:F3} {r.Misses,5}  {r.ArmWait}/{r.ArmRecv}/{r.ArmPub}   exact in window: runtime {r.RtAlloc} B, arm {r.ArmAlloc} B");
        }

        if (AllocOnly) return;
        Console.WriteLine();
        Console.WriteLine($"== c. latest-only: age (ms) and lag (frames behind the arm's newest) of the state read every {ReadPeriodMs} ms, {ArmRate} Hz publish");
        Console.WriteLine($"{"config",-52} {"age med",8} {"age p99",8} {"age max",8} {"lag med",8} {"lag max",8} {"st/read",8} {"empty",6} {"arm Hz",7}");
        foreach (var c in new[] { lib }.Concat(rtNet))
        {
            var r = R("c|" + c.Name);
            r.Samples.Sort(); r.Lags.Sort();
            Console.WriteLine($"{c.Name,-52} {Result.Pct(r.Samples, 50),8:F2} {Result.Pct(r.Samples, 99),8:F2} {Result.Pct(r.Samples, 100),8:F2} {Result.Pct(r.Lags, 50),8} {Result.Pct(r.Lags, 100),8} {r.Drained / (double)Math.Max(1, r.Reads),8:F1} {r.Empty,6} {r.ArmRateSum / r.ArmRateN,7:F0}");
        }
    }
}
