using InceptionNet.Pipeline;
using InceptionNet.Server.Collections.Postgres;

namespace InceptionNet.Server.Collections;

/// <summary>Chooses the collection storage of <c>serve</c>: gallery files in the data folder, or PostgreSQL with <c>--store</c>.</summary>
public static class GalleryStores
{
    /// <summary>
    /// The store <paramref name="options"/> ask for: <see cref="PostgresGalleryStore"/> when <see cref="ServeOptions.Store"/>
    /// is set (connects, checks the schema, loads every collection and starts following changes), else
    /// <see cref="JsonFileGalleryStore"/> over the data folder.
    /// </summary>
    /// <exception cref="GalleryStoreException">The database cannot be reached or its schema is not this build's.</exception>
    public static IGalleryStore Open(ServeOptions options, FacePipeline pipeline)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(pipeline);
        return options.Store is { } store
            ? PostgresGalleryStore.OpenAsync(store, pipeline.Encoder, pipeline.Input.Id, null, Console.Error).GetAwaiter().GetResult()
            : new JsonFileGalleryStore(options.DataDirectory, pipeline);
    }
}
