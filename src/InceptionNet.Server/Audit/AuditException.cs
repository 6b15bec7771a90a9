namespace InceptionNet.Server.Audit;

/// <summary>An audit log cannot be opened, appended to or verified as asked; the message names the file and the problem.</summary>
public sealed class AuditException(string message, Exception? inner = null) : Exception(message, inner);
