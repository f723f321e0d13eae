using System.Text;
using System.Text.Json;
using RobotRuntime.Tensors.Serialization;

namespace RobotRuntime.Tensors.Tests;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "rr-safetensors-" + Guid.NewGuid().ToString("N"));

    public SafeTensorsTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void SavedTensorsAndMetadataLoadBackBitForBit()
    {
        var random = new Random(4);
        var a = TestSupport.Random(random, 3, 5);
        var b = TestSupport.Random(random, 7);
        var scalar = Tensor.Scalar(2.5f);
        string path = Path.Combine(_folder, "c.safetensors");
        SafeTensors.Save(path, [KeyValuePair.Create("a", a), KeyValuePair.Create("b", b), KeyValuePair.Create("s", scalar)],
            new Dictionary<string, string> { ["step"] = "42" });
        var loaded = SafeTensors.Load(path, out var metadata);
        Assert.Equal("42", metadata["step"]);
        Assert.Equal(a.Span.ToArray(), loaded["a"].Span.ToArray());
        Assert.Equal(new[] { 3, 5 }, loaded["a"].Shape.ToArray());
        Assert.Equal(b.Span.ToArray(), loaded["b"].Span.ToArray());
        Assert.Equal(0, loaded["s"].Rank);
        Assert.Equal(2.5f, loaded["s"].Item());
        // The data section starts 8-byte aligned and the header is plain JSON.
        string header = SafeTensors.HeaderText(path);
        Assert.Equal(0, header.Length % 8);
        using var _ = JsonDocument.Parse(header);
    }

    [Fact]
    public void LoadsACheckpointWrittenByPythonIntoNamedParameters()
    {
        // reference/mlp_initial.safetensors was written by make_reference.py with its own writer;
        // the same values are in mlp_training.json (runs[0].initial).
        using var doc = TestSupport.LoadReference("mlp_training.json");
        var initial = doc.RootElement.GetProperty("runs")[0].GetProperty("initial");
        var parameters = initial.EnumerateObject()
            .Select(e => new Parameter(e.Name, Tensor.Zeros(TestSupport.ToTensor(e.Value).Shape.ToArray()))).ToArray();
        int loaded = SafeTensors.LoadInto(Path.Combine(AppContext.BaseDirectory, "reference", "mlp_initial.safetensors"), parameters);
        Assert.Equal(parameters.Length, loaded);
        foreach (var p in parameters)
        {
            Assert.Equal(TestSupport.ToTensor(initial.GetProperty(p.Name)).Span.ToArray(), p.Value.Span.ToArray());
        }
    }

    [Fact]
    public void SavingOverAnExistingCheckpointLeavesOnlyTheNewFile()
    {
        string path = Path.Combine(_folder, "ckpt.safetensors");
        var p = new Parameter("w", Tensor.FromArray([1f, 2f], 2));
        SafeTensors.Save(path, [p]);
        p.Value.Span[0] = 9f;
        SafeTensors.Save(path, [p]);
        Assert.Equal(new[] { "ckpt.safetensors" }, Directory.GetFiles(_folder).Select(Path.GetFileName).ToArray());
        Assert.Equal(9f, SafeTensors.Load(path)["w"].Span[0]);
    }

    [Fact]
    public void TruncatedFileIsRejectedWithTheSizesInTheMessage()
    {
        string path = Path.Combine(_folder, "t.safetensors");
        SafeTensors.Save(path, [KeyValuePair.Create("x", Tensor.Zeros(16))]);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^8]);
        var error = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains("'x'", error.Message);
        Assert.Contains("[16]", error.Message);
    }

    [Fact]
    public void NonFloat32TensorIsRejectedNamingItsDtype()
    {
        string path = Path.Combine(_folder, "f16.safetensors");
        var header = Encoding.UTF8.GetBytes("{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}");
        using (var f = File.Create(path))
        {
            f.Write(BitConverter.GetBytes((ulong)header.Length));
            f.Write(header);
            f.Write(new byte[4]);
        }
        var error = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains("F16", error.Message);
    }

    [Fact]
    public void LoadIntoRejectsAShapeMismatchNamingBothShapes()
    {
        string path = Path.Combine(_folder, "m.safetensors");
        SafeTensors.Save(path, [KeyValuePair.Create("w", Tensor.Zeros(2, 3))]);
        var error = Assert.Throws<InvalidDataException>(() => SafeTensors.LoadInto(path, [new Parameter("w", Tensor.Zeros(3, 2))]));
        Assert.Contains("[2, 3]", error.Message);
        Assert.Contains("[3, 2]", error.Message);
    }
}
