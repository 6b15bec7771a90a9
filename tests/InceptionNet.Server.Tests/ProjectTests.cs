using InceptionNet.Server;
using Xunit;

namespace InceptionNet.Server.Tests;

public class ProjectTests
{
    [Fact]
    public void Server_assembly_is_named_for_its_layer() =>
        Assert.Equal("InceptionNet.Server", typeof(ServerMarker).Assembly.GetName().Name);
}
