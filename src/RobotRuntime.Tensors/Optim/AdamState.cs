namespace RobotRuntime.Tensors.Optim;

public sealed partial class Adam
{
    /// <summary>
    /// The optimiser's moments and step counts as named tensors ("adam.{group}.{index}.m", ".v",
    /// ".step"), for checkpoints that resume training exactly. The tensors are copies.
    /// </summary>
    public IEnumerable<KeyValuePair<string, Tensor>> ExportState(string prefix = "adam")
    {
        for (int g = 0; g < _groups.Length; g++)
        {
            for (int i = 0; i < _firstMoment[g].Length; i++)
            {
                string name = $"{prefix}.{g}.{i}";
                yield return new(name + ".m", Tensor.FromArray(_firstMoment[g][i], _firstMoment[g][i].Length));
                yield return new(name + ".v", Tensor.FromArray(_secondMoment[g][i], _secondMoment[g][i].Length));
                yield return new(name + ".step", Tensor.FromArray([_steps[g][i]], 1));
            }
        }
    }

    /// <summary>Restores a state written by <see cref="ExportState"/> for the same parameter groups.</summary>
    /// <exception cref="ArgumentException">A tensor is missing or has the wrong length; the message names it.</exception>
    public void ImportState(IReadOnlyDictionary<string, Tensor> state, string prefix = "adam")
    {
        ArgumentNullException.ThrowIfNull(state);
        for (int g = 0; g < _groups.Length; g++)
        {
            for (int i = 0; i < _firstMoment[g].Length; i++)
            {
                string name = $"{prefix}.{g}.{i}";
                Copy(name + ".m", _firstMoment[g][i]);
                Copy(name + ".v", _secondMoment[g][i]);
                var step = Get(name + ".step", 1);
                _steps[g][i] = (int)step.Span[0];
            }
        }

        Tensor Get(string key, int length)
        {
            if (!state.TryGetValue(key, out var t))
            {
                throw new ArgumentException($"optimiser state has no tensor '{key}'", nameof(state));
            }
            if (t.Length != length)
            {
                throw new ArgumentException($"optimiser state tensor '{key}' has {t.Length} elements; {length} were expected", nameof(state));
            }
            return t;
        }

        void Copy(string key, float[] destination) => Get(key, destination.Length).Span.CopyTo(destination);
    }
}
