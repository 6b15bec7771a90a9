using System.CommandLine;

namespace InceptionNet.Cli.Commands;

/// <summary><c>serve --webhook URL</c>: where door events go (signed with the keys file's webhook secret).</summary>
internal static class ServeWebhookOption
{
    public static Option<Uri?> Create()
    {
        var option = new Option<Uri?>("--webhook")
        {
            Description = "POST door events ({\"event\":\"door_open\"|\"unknown_face\",\"collection\",\"identity\",\"distance\",\"time\"}) to this http(s) URL, "
                + "signed in X-InceptionNet-Signature: sha256=HMAC-SHA256(secret, body); the secret: inceptionnet keys webhook-secret.",
            CustomParser = result =>
            {
                string text = result.Tokens.Single().Value;
                if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
                {
                    return uri;
                }

                result.AddError($"--webhook '{text}': expected an absolute http:// or https:// URL");
                return null;
            },
        };
        return option;
    }
}
