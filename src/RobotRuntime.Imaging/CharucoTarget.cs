using System.Globalization;
using OpenCvSharp;
using OpenCvSharp.Aruco;

namespace RobotRuntime.Imaging;

/// <summary>
/// A ChArUco calibration target: a chessboard whose white squares carry ArUco markers, so that
/// corners are identified even when only part of the board is in view (a wrist camera close to the
/// board). Corners are numbered row by row over the inner corners, as OpenCV numbers them.
/// </summary>
/// <param name="SquaresX">Squares along a row.</param>
/// <param name="SquaresY">Squares along a column.</param>
/// <param name="SquareMetres">Side of a square, metres.</param>
/// <param name="MarkerMetres">Side of a marker, metres (smaller than a square).</param>
/// <param name="Dictionary">The ArUco dictionary, e.g. DICT_4X4_50.</param>
public sealed record CharucoTarget(int SquaresX, int SquaresY, double SquareMetres, double MarkerMetres, PredefinedDictionaryType Dictionary)
{
    /// <summary>Parses "charuco:5x7:0.04:0.03" or "charuco:5x7:0.04:0.03:DICT_5X5_100" (DICT_4X4_50 when left out).</summary>
    /// <exception cref="ArgumentException">Not in that form; the message shows it.</exception>
    public static CharucoTarget Parse(string text)
    {
        var parts = text.Split(':');
        if (parts.Length is < 4 or > 5 || parts[0] != "charuco")
            throw new ArgumentException($"--board '{text}': expected charuco:SQUARESxSQUARES:SQUARE_M:MARKER_M[:DICT_4X4_50]");
        var squares = parts[1].Split('x', 'X');
        if (squares.Length != 2 || !int.TryParse(squares[0], CultureInfo.InvariantCulture, out var x) || !int.TryParse(squares[1], CultureInfo.InvariantCulture, out var y) || x < 3 || y < 3)
            throw new ArgumentException($"--board '{text}': the squares must be COLUMNSxROWS, each at least 3 (e.g. 5x7)");
        if (!double.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var square) || !double.TryParse(parts[3], NumberStyles.Float, CultureInfo.InvariantCulture, out var marker)
            || !(square > 0 && square < 1) || !(marker > 0 && marker < square))
            throw new ArgumentException($"--board '{text}': the square and marker sides are metres, the marker smaller than the square (e.g. 0.04:0.03)");
        var dictionary = PredefinedDictionaryType.Dict4X4_50;
        if (parts.Length == 5)
        {
            var wanted = parts[4].Replace("DICT_", "Dict", StringComparison.OrdinalIgnoreCase).Replace("_", "", StringComparison.Ordinal);
            var match = Enum.GetNames<PredefinedDictionaryType>().FirstOrDefault(n => n.Replace("_", "", StringComparison.Ordinal).Equals(wanted, StringComparison.OrdinalIgnoreCase));
            dictionary = match is null
                ? throw new ArgumentException($"--board '{text}': unknown dictionary '{parts[4]}'; e.g. DICT_4X4_50, DICT_5X5_100, DICT_6X6_250")
                : Enum.Parse<PredefinedDictionaryType>(match);
        }
        return new CharucoTarget(x, y, square, marker, dictionary);
    }

    /// <summary>Inner corners: (SquaresX − 1) × (SquaresY − 1).</summary>
    public int CornerCount => (SquaresX - 1) * (SquaresY - 1);

    /// <summary>Corner <paramref name="id"/> on the board's plane (z = 0), metres.</summary>
    public Point3f Corner(int id) =>
        new((float)((id % (SquaresX - 1) + 1) * SquareMetres), (float)((id / (SquaresX - 1) + 1) * SquareMetres), 0);

    internal CharucoBoard Create() =>
        new(SquaresX, SquaresY, (float)SquareMetres, (float)MarkerMetres, CvAruco.GetPredefinedDictionary(Dictionary));

    /// <summary>The board as a flat grey image, <paramref name="pixelsPerSquare"/> per square (for printing, and for rendering views in tests).</summary>
    public Mat Image(int pixelsPerSquare)
    {
        _ = OpenCvSharpLibrary.Version;
        using var board = Create();
        var image = new Mat();
        board.GenerateImage(new Size(SquaresX * pixelsPerSquare, SquaresY * pixelsPerSquare), image, 0, 1);
        return image;
    }

    /// <summary>The identified inner corners in an RGB image (ids and sub-pixel positions); null when fewer than 6 are seen.</summary>
    public (int[] Ids, Point2f[] Corners)? Find(ReadOnlySpan<byte> rgb, int width, int height)
    {
        _ = OpenCvSharpLibrary.Version;
        using var bgr = new Mat(height, width, MatType.CV_8UC3);
        RgbMat.CopyInAsBgr(rgb, bgr);
        using var grey = new Mat();
        Cv2.CvtColor(bgr, grey, ColorConversionCodes.BGR2GRAY);
        using var board = Create();
        using var detector = new CharucoDetector(board);
        detector.DetectBoard(grey, out var corners, out var ids, out _, out _);
        return ids is { Length: >= 6 } ? (ids, corners) : null;
    }
}

/// <summary>Calibration from ChArUco views (each view may show a different subset of corners).</summary>
public static class CharucoCalibrator
{
    /// <summary>Calibrates from views found by <see cref="CharucoTarget.Find"/>.</summary>
    /// <exception cref="ArgumentException">Fewer than 3 views.</exception>
    public static CameraCalibration Calibrate(IReadOnlyList<(int[] Ids, Point2f[] Corners)> views, CharucoTarget target, int width, int height, string source)
    {
        ArgumentNullException.ThrowIfNull(views);
        if (views.Count < 3)
            throw new ArgumentException($"calibration needs the board in at least 3 views, got {views.Count}");
        return CameraCalibration.FromViews(views.Select(v => v.Ids.Select(target.Corner)), views.Select(v => v.Corners), views.Count, width, height, source);
    }
}

/// <summary>Renders a flat target image (e.g. a ChArUco board) as a camera with known intrinsics and distortion sees it.</summary>
public static class SyntheticView
{
    /// <summary>
    /// The RGB view of <paramref name="texture"/> (a grey image of a board <paramref name="widthMetres"/> wide, lying on the
    /// plane z = 0 with its top-left corner at the origin) from the pose given: each output pixel's undistorted position is
    /// found (OpenCV's UndistortPoints), mapped onto the board through the pose's homography and sampled bilinearly.
    /// </summary>
    public static byte[] Render(Mat texture, double widthMetres, CameraCalibration camera, double[] rotation, double[] translation)
    {
        _ = OpenCvSharpLibrary.Version;
        var metresPerPixel = widthMetres / texture.Cols;
        using var rotationMatrix = new Mat();
        using var rotationVector = Mat.FromArray(rotation);
        Cv2.Rodrigues(rotationVector, rotationMatrix);
        double R(int r, int c) => rotationMatrix.At<double>(r, c);
        // Board pixel (u, v) → camera: X = R·(u·s, v·s, 0) + t; image (normalised) = X / Z.
        var h = new double[3, 3];
        for (var r = 0; r < 3; r++)
        {
            h[r, 0] = R(r, 0) * metresPerPixel;
            h[r, 1] = R(r, 1) * metresPerPixel;
            h[r, 2] = translation[r];
        }
        using var homography = Mat.FromArray(h);
        using var inverse = homography.Inv().ToMat();
        double Inv(int r, int c) => inverse.At<double>(r, c);

        // Normalised undistorted coordinates of every output pixel.
        var pixels = new Point2f[camera.Width * camera.Height];
        for (var y = 0; y < camera.Height; y++)
            for (var x = 0; x < camera.Width; x++)
                pixels[y * camera.Width + x] = new Point2f(x, y);
        using var source = Mat.FromArray(pixels);
        using var undistorted = new Mat();
        using var k = Mat.FromArray(camera.CameraMatrix());
        using var d = Mat.FromArray(camera.Distortion);
        Cv2.UndistortPoints(source, undistorted, k, d);
        using var mapX = new Mat(camera.Height, camera.Width, MatType.CV_32FC1);
        using var mapY = new Mat(camera.Height, camera.Width, MatType.CV_32FC1);
        for (var i = 0; i < pixels.Length; i++)
        {
            var n = undistorted.At<Vec2f>(i, 0);
            double wx = Inv(0, 0) * n.Item0 + Inv(0, 1) * n.Item1 + Inv(0, 2);
            double wy = Inv(1, 0) * n.Item0 + Inv(1, 1) * n.Item1 + Inv(1, 2);
            double w = Inv(2, 0) * n.Item0 + Inv(2, 1) * n.Item1 + Inv(2, 2);
            mapX.Set(i / camera.Width, i % camera.Width, (float)(wx / w));
            mapY.Set(i / camera.Width, i % camera.Width, (float)(wy / w));
        }
        using var view = new Mat();
        Cv2.Remap(texture, view, mapX, mapY, InterpolationFlags.Linear, BorderTypes.Constant, new Scalar(128));
        using var bgr = new Mat();
        Cv2.CvtColor(view, bgr, ColorConversionCodes.GRAY2BGR);
        var rgb = new byte[camera.Width * camera.Height * 3];
        RgbMat.CopyOutAsRgb(bgr, rgb);
        return rgb;
    }
}
