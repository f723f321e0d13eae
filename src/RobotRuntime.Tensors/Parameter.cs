namespace RobotRuntime.Tensors;

/// <summary>
/// A named trainable tensor. A frozen parameter takes part in the forward pass but receives no
/// gradient and is skipped by optimisers (partial fine-tuning freezes the pre-trained layers).
/// </summary>
public sealed class Parameter
{
    /// <summary>Creates a parameter over <paramref name="value"/>, which it owns from now on.</summary>
    /// <exception cref="ArgumentException">The name is empty.</exception>
    public Parameter(string name, Tensor value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(value);
        Name = name;
        Value = value;
        value.RequiresGrad = true;
    }

    /// <summary>The parameter's name, e.g. "encoder.0.weight" (the key in checkpoints and ONNX initializers).</summary>
    public string Name { get; }

    /// <summary>The values, updated in place by optimisers.</summary>
    public Tensor Value { get; }

    /// <summary>The accumulated gradient, or null when none has been computed.</summary>
    public Tensor? Grad => Value.Grad;

    /// <summary>Whether the parameter is excluded from training (no gradient, no update).</summary>
    public bool Frozen
    {
        get => !Value.RequiresGrad;
        set => Value.RequiresGrad = !value;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name}{Value.ShapeString}{(Frozen ? " (frozen)" : "")}";
}

/// <summary>Parameters that an optimiser updates with a common learning rate and weight decay.</summary>
/// <param name="parameters">The members; setup only.</param>
/// <param name="learningRate">Step size of this group.</param>
/// <param name="weightDecay">L2 (Adam) or decoupled (AdamW) weight decay of this group.</param>
public sealed class ParameterGroup(IEnumerable<Parameter> parameters, float learningRate, float weightDecay = 0f)
{
    /// <summary>The members of the group.</summary>
    public IReadOnlyList<Parameter> Parameters { get; } = parameters.ToArray();

    /// <summary>Step size; may be changed between steps (schedules).</summary>
    public float LearningRate { get; set; } = learningRate;

    /// <summary>Weight decay coefficient.</summary>
    public float WeightDecay { get; set; } = weightDecay;
}
