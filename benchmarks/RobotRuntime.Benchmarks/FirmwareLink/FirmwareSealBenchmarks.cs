using BenchmarkDotNet.Attributes;
using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.Benchmarks.FirmwareLink;

/// <summary>
/// What protocol version 2's authentication adds per frame: encoding a 6-joint COMMAND unsealed
/// (zero tag, the version-1 work plus 16 bytes) beside sealing it with a controller key
/// (HMAC-SHA256 over 88 bytes), and the arm-side tag check. Allocations are reported: the link
/// seals inside the control loop, which must allocate nothing.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 5, iterationCount: 20)]
[MedianColumn]
public class FirmwareSealBenchmarks
{
    private readonly byte[] _buffer = new byte[FirmwareCodec.MaxFrame];
    private readonly byte[] _key = new byte[FirmwareCodec.KeySize];
    private ArmCommand _command;
    private byte[] _sealed = [];

    [GlobalSetup]
    public void Setup()
    {
        new Random(5).NextBytes(_key);
        _command = ArmCommand.JointPositions([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 0.5);
        var length = FirmwareCodec.EncodeCommand(_buffer, 7, 1, 0x5E551001, 1000, _command, _key);
        _sealed = _buffer[..length];
    }

    /// <summary>Encode without a key: header, payload, zero tag, CRC32C.</summary>
    [Benchmark(Baseline = true)]
    public int EncodeUnsealed() => FirmwareCodec.EncodeCommand(_buffer, 7, 1, 0x5E551001, 1000, _command, []);

    /// <summary>Encode and seal with the controller key (what ZmqArmLink.Send does every cycle).</summary>
    [Benchmark]
    public int EncodeSealed() => FirmwareCodec.EncodeCommand(_buffer, 7, 1, 0x5E551001, 1000, _command, _key);

    /// <summary>The arm's check of a command's tag (what rr sim-server does per command).</summary>
    [Benchmark]
    public bool VerifyTag() => FirmwareCodec.TagValid(_sealed, _key);
}
