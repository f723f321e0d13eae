using System.Security.Cryptography;
using System.Text.RegularExpressions;
using RobotRuntime.Cameras;
using RobotRuntime.Vision.Encoders;

namespace RobotRuntime.Pretraining.Tests;

/// <summary>
/// The project's pre-trained PVRs shipped in models/pretrained: every zoo entry's file is there, is the
/// file its description's SHA-256 names, says how it was made, and encodes a 64 px image into the
/// 512 floats the entry announces on ONNX Runtime — distinct encoders giving distinct embeddings.
/// </summary>
public sealed class ShippedPvrTests
{
    private static readonly string Zoo = Path.Combine(
        Native.NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory) ?? throw new InvalidOperationException("no repository root above the test binaries"),
        "models", "pretrained", "zoo.json");

    [Fact]
    public void EveryShippedPvrIsTheFileItsEntryNamesAndEncodes()
    {
        var zoo = PvrZoo.Load(Zoo);
        string[] expected = ["bc-cnn-s1", "atc-g8-jit-cnn-s1", "video-dynamics-cnn-s1", "idm-cnn-s1", "random-cnn-s1"];
        Assert.Equal(expected.Order(), zoo.Models.Select(m => m.Id).Order());
        var frame = new CameraFrame(64, 64);
        for (var i = 0; i < frame.Pixels.Length; i++)
            frame.Pixels[i] = (byte)((i * 37 + i / 192 * 11) % 251);
        var embeddings = new List<float[]>();
        foreach (var model in zoo.Models)
        {
            var file = zoo.ResolveFile(model);
            var stated = Regex.Match(model.Description, "SHA-256 ([0-9a-f]{64})");
            Assert.True(stated.Success, $"{model.Id}: the description names no SHA-256");
            Assert.Equal(stated.Groups[1].Value, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file))));
            Assert.Contains("rr pretrain", model.Export);
            Assert.False(string.IsNullOrEmpty(model.TrainableFrom), $"{model.Id}: no trainableFrom for partial fine-tuning");
            using var encoder = new OnnxPvrEncoder(model, file, 1, 64, 64);
            var embedding = new float[encoder.EmbeddingSize];
            Assert.Equal(512, embedding.Length);
            Assert.Equal(RobotRuntime.Encoders.EncodeStatus.Ok, encoder.Encode([frame], embedding));
            Assert.All(embedding, v => Assert.True(float.IsFinite(v)));
            embeddings.Add(embedding);
        }
        for (var a = 0; a < embeddings.Count; a++)
        {
            for (var b = a + 1; b < embeddings.Count; b++)
                Assert.False(embeddings[a].SequenceEqual(embeddings[b]), $"{zoo.Models[a].Id} and {zoo.Models[b].Id} encode alike: the same weights twice?");
        }
    }
}
