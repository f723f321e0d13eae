namespace RobotRuntime.Tensors;

/// <summary>Shape checks that throw messages naming the input, its shape and the expected shape.</summary>
internal static class Shapes
{
    public static void RequireSame(Tensor actual, Tensor expected, string name)
    {
        if (!actual.Shape.SequenceEqual(expected.Shape))
        {
            throw new ArgumentException($"{name} has shape {actual.ShapeString} but shape {expected.ShapeString} was expected.", name);
        }
    }

    public static void RequireRank(Tensor t, int rank, string name)
    {
        if (t.Rank != rank)
        {
            throw new ArgumentException($"{name} has shape {t.ShapeString} but a rank-{rank} tensor was expected.", name);
        }
    }

    public static void RequireAtLeastRank(Tensor t, int rank, string name)
    {
        if (t.Rank < rank)
        {
            throw new ArgumentException($"{name} has shape {t.ShapeString} but a tensor of rank {rank} or more was expected.", name);
        }
    }

    public static void RequireShape(Tensor t, ReadOnlySpan<int> expected, string name)
    {
        if (!t.Shape.SequenceEqual(expected))
        {
            throw new ArgumentException($"{name} has shape {t.ShapeString} but shape {Tensor.Format(expected)} was expected.", name);
        }
    }

    /// <summary>
    /// Checks that <paramref name="b"/> either has <paramref name="a"/>'s shape or equals its trailing
    /// dimensions (then b repeats over a's leading dimensions); returns b's length.
    /// </summary>
    public static int RequireBroadcastable(Tensor a, Tensor b, string name)
    {
        var ash = a.Shape;
        var bsh = b.Shape;
        bool ok = bsh.Length <= ash.Length && ash[(ash.Length - bsh.Length)..].SequenceEqual(bsh);
        if (!ok)
        {
            throw new ArgumentException(
                $"{name} has shape {b.ShapeString} but shape {a.ShapeString} or a suffix of it (broadcast over the leading dimensions) was expected.", name);
        }
        return b.Length;
    }

    /// <summary>The shape without its last dimension.</summary>
    public static int[] DropLast(Tensor t) => t.Shape[..^1].ToArray();

    /// <summary>A copy of <paramref name="t"/>'s shape with the last dimension replaced.</summary>
    public static int[] WithLast(Tensor t, int last)
    {
        var s = t.Shape.ToArray();
        s[^1] = last;
        return s;
    }
}
