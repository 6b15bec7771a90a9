using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("InceptionNet.Cli.Tests")]
