using RobotRuntime.Vision.Encoders;

namespace RobotRuntime.Vision.Tests;

public sealed class PvrZooTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "rr-zoo-" + Guid.NewGuid().ToString("N"));

    public PvrZooTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Write(string json)
    {
        var path = Path.Combine(_folder, "zoo.json");
        File.WriteAllText(path, json);
        return path;
    }

    private static string Entry(string input = "", string output = "\"name\": \"out\", \"selector\": \"cls\"", string extra = "") => $$"""
        { "version": 1, "models": [ {
          "id": "m", "description": "d", "file": "m.onnx",
          "input": { "name": "pixels", "height": 8, "width": 8, "colorOrder": "RGB", "resize": "stretch",
                     "scale": 1, "mean": [0, 0, 0], "std": [1, 1, 1] {{input}} },
          "output": { {{output}} },
          "embeddingSize": 4, "licence": "l", "source": "s", "export": "python3 export.py m" {{extra}} } ] }
        """;

    [Fact]
    public void TheShippedZooDescribesEveryRequiredRepresentation()
    {
        var zoo = PvrZoo.Load(PvrZoo.DefaultManifestPath());

        string[] required = ["resnet18-pieg", "dinov2-vits14", "dinov2-vits14-reg", "dinov2-vitb14", "dinov2-vitb14-reg", "vc1-vitb", "clip-vitb16", "r3m-resnet50"];
        Assert.All(required, id => Assert.Equal(id, zoo.Get(id).Id));
        var pieg = zoo.Get("resnet18-pieg");
        Assert.Equal(EmbeddingSelector.Flatten, pieg.Selector);
        Assert.Equal(128 * 14 * 14, pieg.EmbeddingSize); // layer2 of ResNet-18 at 112 px: stride 8, 128 channels
        var registers = zoo.Get("dinov2-vitb14-reg");
        Assert.Equal(EmbeddingSelector.ClsAndRegisters, registers.Selector);
        Assert.Equal((1 + 4) * 768, registers.EmbeddingSize);
        Assert.All(zoo.Models, m => Assert.StartsWith("python3 models/export/export_pvr.py ", m.Export));
    }

    [Fact]
    public void AMissingModelFileSaysHowToExportIt()
    {
        var zoo = PvrZoo.Load(PvrZoo.DefaultManifestPath());
        var model = zoo.Get("dinov2-vits14");
        var expected = Path.Combine(Path.GetDirectoryName(zoo.ManifestPath)!, model.File);
        if (File.Exists(expected))
            return; // a developer exported the real weights: nothing is missing
        var error = Assert.Throws<FileNotFoundException>(() => zoo.ResolveFile(model));
        Assert.Contains("PVR 'dinov2-vits14' needs", error.Message);
        Assert.Contains("`python3 models/export/export_pvr.py dinov2-vits14`", error.Message);
        Assert.Contains("Apache-2.0", error.Message);
    }

    [Fact]
    public void AnUnknownIdListsTheKnownOnes()
    {
        var zoo = PvrZoo.Load(PvrZoo.DefaultManifestPath());
        var error = Assert.Throws<KeyNotFoundException>(() => zoo.Get("dino"));
        Assert.Contains("unknown PVR 'dino'", error.Message);
        Assert.Contains("dinov2-vits14", error.Message);
    }

    [Fact]
    public void AnUnknownKeyIsAnErrorNamingModelAndKey()
    {
        var error = Assert.Throws<InvalidDataException>(() => PvrZoo.Load(Write(Entry(extra: ", \"licenses\": \"x\""))));
        Assert.Contains("model 'm': unknown key 'licenses'", error.Message);
        var inInput = Assert.Throws<InvalidDataException>(() => PvrZoo.Load(Write(Entry(input: ", \"heigth\": 8"))));
        Assert.Contains("model 'm' input: unknown key 'heigth'", inInput.Message);
    }

    [Fact]
    public void AnUnknownSelectorListsTheKnownOnes()
    {
        var error = Assert.Throws<InvalidDataException>(() => PvrZoo.Load(Write(Entry(output: "\"name\": \"out\", \"selector\": \"avgpool\""))));
        Assert.Contains("unknown output selector 'avgpool'", error.Message);
        Assert.Contains("cls+registers", error.Message);
        Assert.Contains("mean-patch", error.Message);
    }

    [Fact]
    public void AMistypedValueIsNamed()
    {
        var error = Assert.Throws<InvalidDataException>(() => PvrZoo.Load(Write(Entry().Replace("\"height\": 8", "\"height\": \"8\""))));
        Assert.Contains("model 'm' input: 'height' must be a positive integer, got string \"8\"", error.Message);
    }

    [Fact]
    public void AMissingManifestIsNamed()
    {
        var path = Path.Combine(_folder, "none.json");
        var error = Assert.Throws<FileNotFoundException>(() => PvrZoo.Load(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void APvrIdIsFoundInTheRepositorysManifestsWithoutNamingOne()
    {
        // The project's own PVRs are in models/pretrained/zoo.json, the public ones in models/pvr-zoo.json.
        var own = PvrZoo.LoadShippedContaining("bc-cnn-s1");
        Assert.EndsWith(Path.Combine("models", "pretrained", "zoo.json"), own.ManifestPath);
        Assert.Equal("bc-cnn-s1", own.Get("bc-cnn-s1").Id);
        Assert.EndsWith(Path.Combine("models", "pvr-zoo.json"), PvrZoo.LoadShippedContaining("resnet18").ManifestPath);
        // An id no manifest has: the default manifest, whose Get then lists what it has.
        var none = PvrZoo.LoadShippedContaining("no-such-pvr");
        Assert.Equal(PvrZoo.DefaultManifestPath(), none.ManifestPath);
        Assert.Contains("resnet18", Assert.ThrowsAny<Exception>(() => none.Get("no-such-pvr")).Message);
    }
}
