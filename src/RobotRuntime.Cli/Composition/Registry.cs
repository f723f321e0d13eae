using System.Globalization;
using RobotRuntime.Cli.Runtime;

namespace RobotRuntime.Cli.Composition;

/// <summary>
/// The keys of a config section that belong to the backend its <c>kind</c> selects, as written, with
/// where each was written: the backend reads (and so validates) its own keys, and a key no backend
/// declared is an error naming the file and line.
/// </summary>
public sealed class SectionOptions
{
    private readonly Dictionary<string, (string Text, string Where)> _values;

    /// <summary>No keys.</summary>
    public static SectionOptions Empty(string section) => new(section, new Dictionary<string, (string, string)>());

    /// <summary>The section's extra keys.</summary>
    public SectionOptions(string section, IReadOnlyDictionary<string, (string Text, string Where)> values)
    {
        Section = section;
        _values = new Dictionary<string, (string, string)>(values, StringComparer.Ordinal);
    }

    /// <summary>The section ("encoder", "arm", "policy", "cameras[1]").</summary>
    public string Section { get; }

    /// <summary>The keys given.</summary>
    public IReadOnlyCollection<string> Keys => _values.Keys;

    /// <summary>A copy with one more key (later keys replace earlier ones, as YAML overrides do).</summary>
    public SectionOptions With(string key, string text, string where)
    {
        var values = new Dictionary<string, (string, string)>(_values, StringComparer.Ordinal) { [key] = (text, where) };
        return new SectionOptions(Section, values);
    }

    /// <summary>Refuses any key the backend did not declare, naming it, where it was written and what is allowed.</summary>
    public void CheckOnly(IReadOnlyCollection<string> declared, IReadOnlyCollection<string> common, string backend)
    {
        foreach (var (key, (_, where)) in _values)
        {
            if (!declared.Contains(key))
                throw new ConfigException($"{where}: unknown key '{Section}.{key}'; keys under '{Section}' are: {string.Join(", ", common.Concat(declared))} (with {backend})");
        }
    }

    /// <summary>A text value, or <paramref name="fallback"/> when the key is absent.</summary>
    public string? Text(string key, string? fallback = null) => _values.TryGetValue(key, out var v) ? v.Text : fallback;

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>], or <paramref name="fallback"/>.</summary>
    public int Integer(string key, int fallback, int min, int max)
    {
        if (!_values.TryGetValue(key, out var v))
            return fallback;
        if (int.TryParse(v.Text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
            return value;
        throw new ConfigException($"{v.Where}: '{Section}.{key}' must be a whole number {min}–{max}, got '{v.Text}'");
    }

    /// <summary>A finite number, or <paramref name="fallback"/>.</summary>
    public double Number(string key, double fallback)
    {
        if (!_values.TryGetValue(key, out var v))
            return fallback;
        if (double.TryParse(v.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
            return value;
        throw new ConfigException($"{v.Where}: '{Section}.{key}' must be a number, got '{v.Text}'");
    }
}

/// <summary>One way to make a part of the loop: its name (the section's <c>kind</c>), what it is, the extra keys it reads, and how to make it.</summary>
/// <typeparam name="TPart">The seam it implements.</typeparam>
/// <param name="Name">What <c>kind</c> selects it by.</param>
/// <param name="Summary">One line for error messages and <c>rr doctor</c>.</param>
/// <param name="Keys">The keys of its section it reads besides the section's common ones.</param>
/// <param name="Create">Makes the part for a run.</param>
/// <param name="Preflight">Checks what can be checked before anything is opened or contacted (optional).</param>
public sealed record Backend<TPart>(
    string Name, string Summary, IReadOnlyList<string> Keys, Func<CompositionContext, TPart> Create, Action<CompositionContext>? Preflight = null);

/// <summary>Backends of one seam by name; adding one is a <see cref="Register"/> call.</summary>
/// <typeparam name="TPart">The seam.</typeparam>
public sealed class Registry<TPart>
{
    private readonly Dictionary<string, Backend<TPart>> _backends = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>A registry for the config section <paramref name="section"/> with its common keys.</summary>
    public Registry(string section, IReadOnlyList<string> commonKeys)
    {
        Section = section;
        CommonKeys = commonKeys;
    }

    /// <summary>The config section whose <c>kind</c> selects from this registry.</summary>
    public string Section { get; }

    /// <summary>Keys every backend of the section shares (read by the runtime itself).</summary>
    public IReadOnlyList<string> CommonKeys { get; }

    /// <summary>The registered names, sorted.</summary>
    public IReadOnlyList<string> Names
    {
        get
        {
            lock (_gate)
                return [.. _backends.Keys.Order(StringComparer.Ordinal)];
        }
    }

    /// <summary>Adds a backend.</summary>
    /// <exception cref="ArgumentException">Its name is taken, or one of its keys is a common key.</exception>
    public void Register(Backend<TPart> backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (backend.Keys.FirstOrDefault(CommonKeys.Contains) is { } clash)
            throw new ArgumentException($"{Section} backend '{backend.Name}': '{clash}' is a common key of '{Section}'");
        lock (_gate)
        {
            if (!_backends.TryAdd(backend.Name, backend))
                throw new ArgumentException($"a {Section} backend named '{backend.Name}' is already registered");
        }
    }

    /// <summary>The backend <paramref name="kind"/> names, with its extra keys checked.</summary>
    /// <exception cref="ConfigException">No backend has that name (the message lists them), or a key is not its.</exception>
    public Backend<TPart> Get(string kind, SectionOptions options)
    {
        Backend<TPart>? backend;
        lock (_gate)
            _backends.TryGetValue(kind, out backend);
        if (backend is null)
            throw new ConfigException($"{Section}.kind: '{kind}' is not one of {string.Join(", ", Names)}");
        options.CheckOnly(backend.Keys, CommonKeys, $"{Section} kind '{kind}'");
        return backend;
    }
}
