namespace RobotRuntime.Sim.MuJoCo;

/// <summary>
/// One of MuJoCo's model or data arrays, found by name: its address, shape and a
/// <see cref="Span{T}"/> over it. A field does not own the memory: its span is valid while the
/// <see cref="MjModel"/> or <see cref="MjData"/> it came from is not disposed (MuJoCo never
/// moves these arrays), and must not be used after that.
/// </summary>
/// <typeparam name="T">The element type: <see cref="double"/> for mjtNum, <see cref="float"/>, <see cref="int"/> or <see cref="byte"/>.</typeparam>
public readonly unsafe struct MjField<T> where T : unmanaged
{
    private readonly T* _address;

    internal MjField(string name, nint address, int rows, int columns)
    {
        Name = name;
        _address = (T*)address;
        Rows = rows;
        Columns = columns;
    }

    /// <summary>The field's name as in <c>mjxmacro.h</c>, e.g. <c>geom_rgba</c>.</summary>
    public string Name { get; }

    /// <summary>Number of rows (objects), e.g. <c>ngeom</c>.</summary>
    public int Rows { get; }

    /// <summary>Values per row, e.g. 4 for <c>geom_rgba</c>.</summary>
    public int Columns { get; }

    /// <summary>Rows × Columns.</summary>
    public int Length => Rows * Columns;

    /// <summary>The whole array; valid while its model or data lives. Writes go straight to MuJoCo.</summary>
    /// <remarks>Real-time: no allocation, no blocking, no throw.</remarks>
    public Span<T> Span => new(_address, Length);

    /// <summary>The <paramref name="row"/>-th row (e.g. one geom's RGBA).</summary>
    /// <remarks>Real-time: no allocation, no blocking; throws only for a row out of range.</remarks>
    public Span<T> Row(int row)
    {
        if ((uint)row >= (uint)Rows)
            throw new ArgumentOutOfRangeException(nameof(row), row, $"{Name} has rows 0..{Rows - 1}");
        return new Span<T>(_address + (long)row * Columns, Columns);
    }
}

/// <summary>Kinds of named objects in a MuJoCo model.</summary>
public enum MjObject
{
    /// <summary>A body.</summary>
    Body,
    /// <summary>A joint.</summary>
    Joint,
    /// <summary>A geom.</summary>
    Geom,
    /// <summary>A site.</summary>
    Site,
    /// <summary>A camera.</summary>
    Camera,
    /// <summary>A light.</summary>
    Light,
    /// <summary>A material.</summary>
    Material,
    /// <summary>A texture.</summary>
    Texture,
    /// <summary>An actuator.</summary>
    Actuator,
}
