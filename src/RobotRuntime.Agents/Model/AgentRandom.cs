using System.Numerics;

namespace RobotRuntime.Agents.Model;

/// <summary>
/// A small deterministic random generator (xoshiro128** seeded by SplitMix64) whose whole state is
/// one value pair, so checkpoints can store it and a resumed run draws the same numbers.
/// </summary>
/// <remarks>Real-time: no allocation. Not thread-safe: one instance per thread.</remarks>
public sealed class AgentRandom
{
    private uint _s0, _s1, _s2, _s3;
    private float _spareNormal;
    private bool _hasSpare;

    /// <summary>Seeds the generator.</summary>
    public AgentRandom(ulong seed) => Reseed(seed);

    /// <summary>Restarts the sequence from <paramref name="seed"/>.</summary>
    public void Reseed(ulong seed)
    {
        ulong z = seed;
        ulong Next()
        {
            z += 0x9E3779B97F4A7C15UL;
            ulong x = z;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
            return x ^ (x >> 31);
        }
        ulong a = Next(), b = Next();
        _s0 = (uint)a; _s1 = (uint)(a >> 32); _s2 = (uint)b; _s3 = (uint)(b >> 32) | 1u;
        _hasSpare = false;
    }

    /// <summary>The full state, for checkpoints (see <see cref="Restore"/>).</summary>
    public string Save() => $"{_s0},{_s1},{_s2},{_s3},{(_hasSpare ? 1 : 0)},{BitConverter.SingleToInt32Bits(_spareNormal)}";

    /// <summary>Restores a state written by <see cref="Save"/>.</summary>
    /// <exception cref="FormatException">The text is not a saved state.</exception>
    public void Restore(string state)
    {
        var parts = state.Split(',');
        if (parts.Length != 6)
        {
            throw new FormatException($"random state '{state}' has {parts.Length} fields; 6 were expected");
        }
        _s0 = uint.Parse(parts[0]); _s1 = uint.Parse(parts[1]); _s2 = uint.Parse(parts[2]); _s3 = uint.Parse(parts[3]);
        _hasSpare = parts[4] == "1";
        _spareNormal = BitConverter.Int32BitsToSingle(int.Parse(parts[5]));
    }

    /// <summary>Next 32 random bits.</summary>
    public uint NextUInt()
    {
        uint result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        uint t = _s1 << 9;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 11);
        return result;
    }

    /// <summary>Uniform in [0, 1).</summary>
    public float NextFloat() => (NextUInt() >> 8) * (1f / 16777216f);

    /// <summary>Uniform integer in [0, <paramref name="exclusiveMax"/>).</summary>
    public int NextInt(int exclusiveMax) => (int)(((ulong)NextUInt() * (uint)exclusiveMax) >> 32);

    /// <summary>Standard normal (Box–Muller, pairs cached).</summary>
    public float NextNormal()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spareNormal;
        }
        float u1 = 1f - NextFloat();
        float u2 = NextFloat();
        float r = MathF.Sqrt(-2f * MathF.Log(u1));
        float angle = 2f * MathF.PI * u2;
        _spareNormal = r * MathF.Sin(angle);
        _hasSpare = true;
        return r * MathF.Cos(angle);
    }

    /// <summary>A <see cref="System.Random"/> seeded from this generator (for engine ops that take one, such as dropout).</summary>
    public Random NextSystemRandom() => new((int)(NextUInt() & 0x7FFFFFFF));
}
