namespace InceptionNet.Tensors;

/// <summary>
/// Plain, obviously-correct implementations that read like the math. They are the specification the fast kernels
/// are tested against, and are never used on the hot path. Dense NHWC arrays only.
/// </summary>
public static class ReferenceOps
{
    /// <summary>
    /// Direct convolution: <c>y[n,oy,ox,o] = act(residual + scale·(b[o] + Σ_{ky,kx,i} x[n, oy·sh−top+ky, ox·sw−left+kx, i] · w[ky,kx,i,o]))</c>,
    /// with out-of-range input reading as zero. Accumulates in double.
    /// </summary>
    public static float[] Conv2D(float[] x, int n, int h, int w, int c, float[] kernel, int kh, int kw, int outC, float[]? bias,
        WindowGeometry geometry, bool relu, float[]? residual = null, float scale = 1f)
    {
        var (outH, outW, top, left) = geometry.Resolve(h, w);
        var y = new float[n * outH * outW * outC];
        for (int b = 0; b < n; b++)
        {
            for (int oy = 0; oy < outH; oy++)
            {
                for (int ox = 0; ox < outW; ox++)
                {
                    for (int o = 0; o < outC; o++)
                    {
                        double sum = bias?[o] ?? 0f;
                        for (int ky = 0; ky < kh; ky++)
                        {
                            for (int kx = 0; kx < kw; kx++)
                            {
                                int iy = oy * geometry.StrideH - top + ky;
                                int ix = ox * geometry.StrideW - left + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                {
                                    continue;
                                }

                                for (int i = 0; i < c; i++)
                                {
                                    sum += (double)x[((b * h + iy) * w + ix) * c + i] * kernel[((ky * kw + kx) * c + i) * outC + o];
                                }
                            }
                        }

                        int index = ((b * outH + oy) * outW + ox) * outC + o;
                        double v = (residual?[index] ?? 0.0) + scale * sum;
                        y[index] = (float)(relu && v < 0 ? 0 : v);
                    }
                }
            }
        }

        return y;
    }

    /// <summary>Max (<paramref name="max"/> true) or average pooling, padding ignored / not counted.</summary>
    public static float[] Pool(float[] x, int n, int h, int w, int c, WindowGeometry geometry, bool max)
    {
        var (outH, outW, top, left) = geometry.Resolve(h, w);
        var y = new float[n * outH * outW * c];
        for (int b = 0; b < n; b++)
        {
            for (int oy = 0; oy < outH; oy++)
            {
                for (int ox = 0; ox < outW; ox++)
                {
                    for (int ch = 0; ch < c; ch++)
                    {
                        double acc = max ? double.NegativeInfinity : 0;
                        int count = 0;
                        for (int ky = 0; ky < geometry.KernelH; ky++)
                        {
                            for (int kx = 0; kx < geometry.KernelW; kx++)
                            {
                                int iy = oy * geometry.StrideH - top + ky;
                                int ix = ox * geometry.StrideW - left + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                {
                                    continue;
                                }

                                float v = x[((b * h + iy) * w + ix) * c + ch];
                                acc = max ? Math.Max(acc, v) : acc + v;
                                count++;
                            }
                        }

                        y[((b * outH + oy) * outW + ox) * c + ch] = (float)(max ? acc : acc / count);
                    }
                }
            }
        }

        return y;
    }

    /// <summary>Channel LRN as <c>tf.nn.lrn</c>, in double.</summary>
    public static float[] LocalResponseNorm(float[] x, int pixels, int c, int depthRadius, double bias, double alpha, double beta)
    {
        var y = new float[x.Length];
        for (int p = 0; p < pixels; p++)
        {
            for (int ch = 0; ch < c; ch++)
            {
                double sum = 0;
                for (int j = Math.Max(0, ch - depthRadius); j <= Math.Min(c - 1, ch + depthRadius); j++)
                {
                    double v = x[p * c + j];
                    sum += v * v;
                }

                y[p * c + ch] = (float)(x[p * c + ch] / Math.Pow(bias + alpha * sum, beta));
            }
        }

        return y;
    }
}
