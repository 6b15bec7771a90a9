namespace InceptionNet.Tensors;

/// <summary>
/// Recycles activation buffers between forward passes. After the first pass of a given batch size every
/// rent is served from the pool, so inference does not allocate. Not thread-safe: one pool per model
/// instance, used under that model's lock.
/// </summary>
public sealed class TensorPool
{
    private readonly Dictionary<int, Stack<float[]>> _free = [];

    /// <summary>Rents a dense [N, H, W, C] tensor. Contents are unspecified unless <paramref name="clear"/>.</summary>
    public TensorSlice Rent(int n, int h, int w, int c, bool clear = false)
    {
        int length = checked(n * h * w * c);
        float[] buffer;
        if (_free.TryGetValue(length, out var stack) && stack.Count > 0)
        {
            buffer = stack.Pop();
            if (clear)
            {
                Array.Clear(buffer);
            }
        }
        else
        {
            buffer = new float[length];
        }

        return TensorSlice.Dense(buffer, n, h, w, c);
    }

    /// <summary>Gives a rented tensor back. Only whole rented tensors may be returned.</summary>
    public void Return(TensorSlice slice)
    {
        var buffer = slice.Buffer;
        if (!_free.TryGetValue(buffer.Length, out var stack))
        {
            stack = new Stack<float[]>();
            _free[buffer.Length] = stack;
        }

        stack.Push(buffer);
    }
}
