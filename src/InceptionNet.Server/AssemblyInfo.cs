using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("InceptionNet.Server.Tests")]
