using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("InceptionNet.Detection.Tests")]
