using RobotRuntime.Cameras;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;

namespace RobotRuntime.Core.Tests.Telemetry;

public sealed class LiveStatusBoardTests
{
    [Fact]
    public void TheBoardCountsCyclesMissedDeadlinesAndHoldsAndKeepsTheNewestCycle()
    {
        var board = new LiveStatusBoard(["front"], 4, 4, rateHz: 100, policyName: "scripted");
        Assert.False(board.TryReadCycle(out _));
        for (var i = 0; i < 10; i++)
        {
            var record = new CycleRecord { CycleIndex = i, MissedDeadline = (byte)(i % 3 == 0 ? 1 : 0), HoldStarted = (byte)(i == 7 ? 1 : 0) };
            board.PublishCycle(record, holding: i >= 7, i >= 7 ? HoldReason.DeadlineMisses : HoldReason.None, i >= 7 ? "3 deadlines missed in a row" : "", nowNs: i);
        }

        Assert.Equal(10, board.CyclesOffered);
        Assert.Equal(10, board.CyclesPublished);
        Assert.Equal(4, board.MissedDeadlines); // cycles 0, 3, 6, 9
        Assert.Equal(1, board.HoldsStarted);
        Assert.True(board.TryReadCycle(out var newest));
        Assert.Equal(9, newest.Record.CycleIndex);
        Assert.True(newest.Holding);
        Assert.Equal("3 deadlines missed in a row", newest.HoldText);
    }

    [Fact]
    public void AFrameIsReadOnceAndOnlyWhenNewer()
    {
        var board = new LiveStatusBoard(["front"], 2, 1, rateHz: 10, policyName: "scripted");
        var frame = new CameraFrame(2, 1) { Sequence = 5 };
        frame.Pixels[0] = 42;
        var copy = new CameraFrame(2, 1);
        Assert.False(board.TryReadFrame(0, copy));
        board.PublishFrame(0, frame);
        Assert.True(board.TryReadFrame(0, copy));
        Assert.Equal((5L, (byte)42), (copy.Sequence, copy.Pixels[0]));
        Assert.False(board.TryReadFrame(0, copy));
    }
}
