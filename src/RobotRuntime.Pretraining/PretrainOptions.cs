using System.Globalization;

namespace RobotRuntime.Pretraining;

/// <summary>The objectives <c>rr pretrain</c> trains with (ALGORITHMS.md, "Pre-training objectives").</summary>
public enum PretrainObjective
{
    /// <summary>Augmented temporal contrast: InfoNCE between frame t and frame t + k of the same camera, momentum target encoder, bilinear similarity.</summary>
    Atc,

    /// <summary>Inverse dynamics: predict the action a_t from the embeddings of frames t and t + 1.</summary>
    Idm,

    /// <summary>Behaviour cloning: predict the scripted demonstrator's action a_t from the embedding of frame t (scripted episodes only).</summary>
    Bc,

    /// <summary>
    /// Action-free video dynamics in PVDR's spirit: a conditional latent model of how the embedding
    /// changes from frame t to t + k (posterior q(z | e_t, e_t+k), prior p(z | e_t), predictor
    /// (e_t, z) → projection of a momentum target's e_t+k) trained with a prediction loss plus β·KL(q ‖ p).
    /// </summary>
    VideoDynamics,

    /// <summary>
    /// Self-predictive representations (SPR): from the code of frame t, a transition model rolled
    /// forward with the recorded actions for K steps predicts projections of frames t + 1 … t + K as the
    /// momentum encoder sees them; negative cosine similarity.
    /// </summary>
    Spr,

    /// <summary>
    /// Masked autoencoding (MAE) with a vision transformer: a random share (75 %) of an image's patches
    /// is hidden, the encoder sees only the others, and a light decoder reconstructs the hidden patches'
    /// per-patch normalised pixels; mean squared error on the hidden patches only.
    /// </summary>
    Mae,

    /// <summary>
    /// CURL: InfoNCE between two random crops (independent random shifts) of the same frame; queries
    /// from the encoder, keys from its momentum copy, bilinear similarity qᵀWk, the batch's other
    /// samples as negatives.
    /// </summary>
    Curl,

    /// <summary>
    /// Siamese masked autoencoding (SiamMAE) with a vision transformer: two frames of one episode and
    /// camera k apart; the past frame is encoded whole, the future frame with a large share (95 %) of
    /// its patches hidden; a decoder whose future-frame tokens cross-attend to the past frame's
    /// reconstructs the hidden patches' per-patch normalised pixels (mean squared error on them only).
    /// </summary>
    SiamMae,
}

/// <summary>Settings of a pre-training run; stored in the run's <c>run.json</c> and checked on resume.</summary>
/// <param name="Objective">The objective.</param>
/// <param name="Architecture">Encoder architecture (see <see cref="EncoderArchitectures.Names"/>).</param>
/// <param name="Steps">Updates to train for in total.</param>
/// <param name="BatchSize">Samples per update.</param>
/// <param name="LearningRate">Adam learning rate.</param>
/// <param name="Seed">Seeds initialisation, sampling and augmentation.</param>
/// <param name="TemporalOffset">k: frames between the anchor and the positive (ATC) or the predicted frame (video dynamics).</param>
/// <param name="ShiftPad">Random-shift augmentation: pixels of edge-replicated padding before a random crop back to size.</param>
/// <param name="PoolEpisodes">Episodes held decoded in memory; one is replaced by a random other every update.</param>
/// <param name="CheckpointEvery">Updates between checkpoints.</param>
/// <param name="TargetTau">Momentum-target Polyak rate per update.</param>
/// <param name="ColourJitter">Colour augmentation strength (0: none; see <see cref="FrameSampler"/>).</param>
/// <param name="Group">Contrastive objectives (ATC, CURL, video dynamics): consecutive samples of a batch taken from one episode and camera (see <see cref="FrameSampler.Next"/>); the others always take 1.</param>
/// <param name="SprSteps">SPR: K, the steps the transition model is rolled forward (frames t + 1 … t + K are predicted).</param>
/// <param name="MaskRatio">MAE: the share of an image's patches hidden from the encoder (round(T × ratio) patches; at least one must stay hidden and one seen).</param>
/// <param name="SiamMaeGap">SiamMAE: frames from the past frame to the future frame (both inside one episode; shorter episodes are not drawn).</param>
/// <param name="SiamMaeMaskRatio">SiamMAE: the share of the future frame's patches hidden from the encoder (the past frame is never masked).</param>
public sealed record PretrainOptions(
    PretrainObjective Objective,
    string Architecture = "cnn",
    int Steps = 5000,
    int BatchSize = 64,
    float LearningRate = 1e-3f,
    int Seed = 1,
    int TemporalOffset = 3,
    int ShiftPad = 4,
    int PoolEpisodes = 96,
    int CheckpointEvery = 250,
    float TargetTau = 0.01f,
    int Group = 8,
    float ColourJitter = 0f,
    int SprSteps = 5,
    float MaskRatio = 0.75f,
    int SiamMaeGap = 4,
    float SiamMaeMaskRatio = 0.95f)
{
    /// <summary>Checks every field; throws naming the first bad one.</summary>
    public void Validate()
    {
        if (!EncoderArchitectures.Names.Contains(Architecture))
            throw new ArgumentException($"unknown architecture '{Architecture}'; expected one of {string.Join(", ", EncoderArchitectures.Names)}");
        Require(Steps is >= 0 and <= 100_000_000, $"steps must be 0..100,000,000 (0 exports the initialisation, a random-weights baseline), got {Steps}");
        Require(BatchSize is >= 2 and <= 4096, $"batch size must be 2..4096 (contrastive objectives need negatives), got {BatchSize}");
        Require(LearningRate is > 0 and < 1, $"learning rate must be in (0, 1), got {LearningRate.ToString(CultureInfo.InvariantCulture)}");
        Require(TemporalOffset is >= 1 and <= 50, $"temporal offset must be 1..50 frames, got {TemporalOffset}");
        Require(ShiftPad is >= 0 and <= 16, $"shift pad must be 0..16 pixels, got {ShiftPad}");
        Require(PoolEpisodes is >= 1 and <= 100_000, $"pool episodes must be 1..100,000, got {PoolEpisodes}");
        Require(CheckpointEvery >= 1, $"checkpoint-every must be at least 1, got {CheckpointEvery}");
        Require(Group >= 1 && Group <= BatchSize, $"group must be 1..batch size ({BatchSize}), got {Group}");
        Require(ColourJitter is >= 0 and <= 1, $"colour jitter must be in [0, 1], got {ColourJitter.ToString(CultureInfo.InvariantCulture)}");
        Require(SprSteps is >= 1 and <= 50, $"SPR steps must be 1..50, got {SprSteps}");
        Require(MaskRatio is > 0 and < 1, $"mask ratio must be in (0, 1), got {MaskRatio.ToString(CultureInfo.InvariantCulture)}");
        Require(Objective != PretrainObjective.Mae || EncoderArchitectures.IsTransformer(Architecture),
            $"the mae objective needs a vision-transformer architecture ({string.Join(", ", EncoderArchitectures.Names.Where(EncoderArchitectures.IsTransformer))}); got '{Architecture}'");
        Require(SiamMaeGap is >= 1 and <= 100, $"SiamMAE gap must be 1..100 frames, got {SiamMaeGap}");
        Require(SiamMaeMaskRatio is > 0 and < 1, $"SiamMAE mask ratio must be in (0, 1), got {SiamMaeMaskRatio.ToString(CultureInfo.InvariantCulture)}");
        Require(Objective != PretrainObjective.SiamMae || EncoderArchitectures.IsTransformer(Architecture),
            $"the siammae objective needs a vision-transformer architecture ({string.Join(", ", EncoderArchitectures.Names.Where(EncoderArchitectures.IsTransformer))}); got '{Architecture}'");
        Require(TargetTau is > 0 and <= 1, $"target tau must be in (0, 1], got {TargetTau.ToString(CultureInfo.InvariantCulture)}");
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
            throw new ArgumentException(message);
    }

    /// <summary>The objective's name on the command line: atc, idm, bc, video-dynamics, spr, mae, curl, siammae.</summary>
    public static string NameOf(PretrainObjective objective) => objective switch
    {
        PretrainObjective.Atc => "atc",
        PretrainObjective.Idm => "idm",
        PretrainObjective.Bc => "bc",
        PretrainObjective.VideoDynamics => "video-dynamics",
        PretrainObjective.Spr => "spr",
        PretrainObjective.Mae => "mae",
        PretrainObjective.Curl => "curl",
        PretrainObjective.SiamMae => "siammae",
        _ => throw new ArgumentOutOfRangeException(nameof(objective), objective, "unknown objective"),
    };

    /// <summary>Parses an objective name.</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the objectives.</exception>
    public static PretrainObjective Parse(string name) => name switch
    {
        "atc" => PretrainObjective.Atc,
        "idm" or "inverse-dynamics" => PretrainObjective.Idm,
        "video-dynamics" or "pvdr" => PretrainObjective.VideoDynamics,
        "bc" or "behaviour-cloning" => PretrainObjective.Bc,
        "spr" => PretrainObjective.Spr,
        "mae" => PretrainObjective.Mae,
        "curl" => PretrainObjective.Curl,
        "siammae" or "siam-mae" => PretrainObjective.SiamMae,
        _ => throw new ArgumentException($"unknown objective '{name}'; expected atc, idm, bc, video-dynamics, spr, mae, curl or siammae"),
    };
}
