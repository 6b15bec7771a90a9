namespace InceptionNet.Server;

/// <summary>Anchors the service assembly (used by tests to find it); the service types live beside it.</summary>
public static class ServerMarker
{
}
