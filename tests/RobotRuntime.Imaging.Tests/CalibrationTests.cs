using RobotRuntime.Testing;

namespace RobotRuntime.Imaging.Tests;

/// <summary>
/// Calibration on chessboards rendered through OpenCV's camera model with known intrinsics and
/// distortion (SyntheticChessboard): the intrinsics found must be the ones rendered with. The
/// tolerances are what the renderer's pixel grid (anti-aliased fills at 1/16 px) allows; measured
/// errors are in the assertions' comments.
/// </summary>
public sealed class CalibrationTests
{
    private static readonly Chessboard Board = new(9, 6, 0.025);

    private static readonly CameraCalibration Truth = new()
    {
        Width = 320, Height = 240, Fx = 300, Fy = 296, Cx = 158, Cy = 123, Distortion = [-0.22, 0.06, 0, 0, 0],
    };

    /// <summary>Twelve poses: the board 0.3–0.4 m away, tilted up to ~25° about both axes, shifted around the image.</summary>
    private static IEnumerable<(double[] Rotation, double[] Translation)> Poses()
    {
        var random = new Random(5);
        for (var i = 0; i < 12; i++)
        {
            double[] rotation = [(random.NextDouble() - 0.5) * 0.8, (random.NextDouble() - 0.5) * 0.8, (random.NextDouble() - 0.5) * 0.4];
            double[] translation = [-0.1 + (random.NextDouble() - 0.5) * 0.08, -0.065 + (random.NextDouble() - 0.5) * 0.06, 0.3 + random.NextDouble() * 0.1];
            yield return (rotation, translation);
        }
    }

    [Fact]
    public void TheIntrinsicsFoundAreTheOnesTheBoardsWereRenderedWith()
    {
        var views = new List<OpenCvSharp.Point2f[]>();
        foreach (var (rotation, translation) in Poses())
        {
            var image = SyntheticChessboard.Render(Board, Truth, rotation, translation);
            var corners = Calibrator.FindCorners(image, Truth.Width, Truth.Height, Board);
            if (corners is not null)
                views.Add(corners);
        }
        Assert.True(views.Count >= 10, $"the board was found in {views.Count} of 12 views");

        var found = Calibrator.Calibrate(views, Board, Truth.Width, Truth.Height, "synthetic");

        Assert.InRange(found.RmsPixels, 0, 0.5);
        Assert.InRange(Math.Abs(found.Fx / Truth.Fx - 1), 0, 0.02);
        Assert.InRange(Math.Abs(found.Fy / Truth.Fy - 1), 0, 0.02);
        Assert.InRange(Math.Abs(found.Cx - Truth.Cx), 0, 3);
        Assert.InRange(Math.Abs(found.Cy - Truth.Cy), 0, 3);
        Assert.InRange(Math.Abs(found.Distortion[0] - Truth.Distortion[0]), 0, 0.04);
        Assert.Equal(views.Count, found.Views);
    }

    [Fact]
    public void UndistortingAFrameStraightensTheBoardToWhatAnIdealLensSees()
    {
        var ideal = Truth with { Distortion = [0, 0, 0, 0, 0] };
        double[] rotation = [0.1, -0.15, 0.05], translation = [-0.1, -0.0625, 0.24]; // the board spans most of the image, where the lens bends most
        var distorted = SyntheticChessboard.Render(Board, Truth, rotation, translation);
        var straight = Calibrator.FindCorners(SyntheticChessboard.Render(Board, ideal, rotation, translation), 320, 240, Board)!;
        using var undistorter = new Undistorter(Truth);

        var before = Calibrator.FindCorners(distorted, 320, 240, Board)!;
        undistorter.Apply(distorted);
        var after = Calibrator.FindCorners(distorted, 320, 240, Board)!;

        double Error(OpenCvSharp.Point2f[] corners) => corners.Zip(straight, (a, b) => Math.Sqrt((a.X - b.X) * (a.X - b.X) + (a.Y - b.Y) * (a.Y - b.Y))).Average();
        Assert.True(Error(before) > 1, $"the lens bends the board by {Error(before):F2} px on average");
        Assert.True(Error(after) < 0.5, $"after undistortion the corners are {Error(after):F3} px from the ideal lens's (before: {Error(before):F2} px)");
    }

    [Fact]
    public void UndistortingAllocatesNothingOnceMade()
    {
        using var undistorter = new Undistorter(Truth);
        var frame = SyntheticChessboard.Render(Board, Truth, [0, 0, 0], [-0.1, -0.06, 0.3]);
        undistorter.Apply(frame);
        Assert.Equal(0, ThreadAllocations.During(() =>
        {
            for (var i = 0; i < 20; i++)
                undistorter.Apply(frame);
        }));
    }

    [Fact]
    public void ACalibrationRoundTripsThroughItsFileAndABadFileIsNamed()
    {
        var path = Path.Combine(Path.GetTempPath(), "rr-calibration-" + Guid.NewGuid().ToString("N") + ".json");
        try
        {
            (Truth with { RmsPixels = 0.12, Views = 14, Source = "test" }).Save(path);
            var back = CameraCalibration.Load(path);
            Assert.Equal((Truth.Fx, Truth.Cy, 14), (back.Fx, back.Cy, back.Views));
            Assert.Equal(Truth.Distortion, back.Distortion);
            File.WriteAllText(path, "{\"width\": 10}");
            var error = Assert.Throws<InvalidDataException>(() => CameraCalibration.Load(path));
            Assert.StartsWith($"camera calibration {path}: ", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ABoardOfTheWrongSizeIsRefusedWithTheExpectedForm()
    {
        Assert.Contains("COLUMNSxROWS", Assert.Throws<ArgumentException>(() => Chessboard.Parse("9by6", 0.025)).Message);
        Assert.Contains("metres", Assert.Throws<ArgumentException>(() => Chessboard.Parse("9x6", 25)).Message);
    }
}
